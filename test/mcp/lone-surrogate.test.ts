import { describe, expect, it } from 'vitest';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { eventually, initialized, rawHarness } from './raw-harness.js';

/**
 * JSON's `\ud800` escape lets a client send half a surrogate pair: not Unicode text. Cedar cannot
 * parse such a request, so the call was denied (with a receipt) under Cedar's own parse error
 * ("unexpected end of hex escape at line 1 column 181"), which names neither the argument nor why.
 */
describe('a lone surrogate in a tools/call', () => {
  it('attack: a lone surrogate deep in the arguments, or in a member name, is denied with a reason naming its path, and a receipt', async () => {
    const policy = new PolicyEngine(loadPolicies('@id("all") permit(principal, action, resource);'));
    const raw = await rawHarness({ policy });
    try {
      await initialized(raw);
      // Raw lines: the escapes stay escapes on the wire, as a client would send them.
      const answerTo = async (id: number, line: string) => {
        raw.send(line);
        await eventually(() => raw.received.some((message) => message.id === id), `answer ${id}`);
        return JSON.stringify(raw.received.find((message) => message.id === id)?.result);
      };
      const deep = await answerTo(
        1,
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"files":[{"path":"ok"},{"path":"x\\ud800y"}]}}}',
      );
      expect(deep).toContain('arguments.files[1].path holds a lone UTF-16 surrogate');
      expect(deep).not.toContain('hex escape');
      expect(deep).toContain('oacp/receipt');
      const named = await answerTo(
        2,
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"a\\udc00":1}}}',
      );
      expect(named).toContain('arguments[\\"a\\\\udc00\\"] (its name) holds a lone');

      const denied = raw.receipts.records.filter((record) => record.tool === 'echo');
      expect(denied).toHaveLength(2);
      for (const record of denied) {
        expect(record.outcome).toBe('denied');
        expect(record.decision.reason).toContain('lone UTF-16 surrogate');
      }
      expect(raw.serverGot().filter((message) => message.method === 'tools/call')).toEqual([]);
    } finally {
      await raw.close();
    }
  });
});
