import { describe, expect, it } from 'vitest';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { initialized, rawHarness } from './raw-harness.js';

/**
 * Go servers decode arguments into typed structs matching names case-insensitively: a lone
 * `PATH` where the tool's inputSchema lists `path` is read as `path` by the server, while a Cedar
 * rule on `context.arguments.path` never saw it (the call has no `path`). The bridge keeps the
 * names each tool's listed inputSchema gives and refuses a name that only imitates one, at any
 * depth the schema describes, with a receipt.
 */
describe('argument names that imitate the tool’s listed ones', () => {
  const POLICY = `@id("no-etc")
forbid (principal, action, resource) when { context.arguments has path && context.arguments.path like "/etc/*" };
@id("rest") permit (principal, action, resource);`;

  it('attack: `PATH`, `options.MODE`, `files[0].Path` (listed: path, options.mode, files[].path) are refused naming both names, with receipts, never sent', async () => {
    const raw = await rawHarness({ policy: new PolicyEngine(loadPolicies(POLICY)) });
    try {
      // No tools/list from the client: the call waits for the bridge's own listing.
      await initialized(raw);
      const attacks: Array<[Record<string, unknown>, string, string]> = [
        [{ PATH: '/etc/shadow' }, 'PATH', 'path'],
        [{ path: '/data/x', options: { MODE: 'w' } }, 'MODE', 'mode'],
        [{ files: [{ path: '/data/a' }, { Path: '/etc/passwd' }] }, 'Path', 'path'],
        [{ 'pa\u200bth': '/etc/shadow' }, 'pa\u200bth', 'path'],
      ];
      let id = 10;
      for (const [args, name, listed] of attacks) {
        const answer = await raw.request({
          jsonrpc: '2.0',
          id: id++,
          method: 'tools/call',
          params: { name: 'write_file', arguments: args },
        });
        const text = JSON.stringify(answer.result);
        expect(text).toContain(`the member name ${JSON.stringify(JSON.stringify(name)).slice(1, -1)}`);
        expect(text).toContain(`which is not \\"${listed}\\"`);
        expect(text).toContain('oacp/receipt');
      }
      const records = raw.receipts.records.filter((record) => record.tool === 'write_file');
      expect(records).toHaveLength(attacks.length);
      for (const record of records) {
        expect(record.outcome).toBe('denied');
        expect(record.checks.shape?.effect).toBe('deny');
      }
      expect(records[1]?.decision.reason).toContain('arguments.options holds');
      expect(records[2]?.decision.reason).toContain('arguments.files[1] holds');
      expect(raw.serverGot().filter((message) => message.method === 'tools/call')).toEqual([]);

      // The listed names, and names the schema does not describe, go through as before.
      const fine = await raw.request({
        jsonrpc: '2.0',
        id: 99,
        method: 'tools/call',
        params: { name: 'write_file', arguments: { path: '/data/x', options: { mode: 'w' }, Extra: 1 } },
      });
      expect(JSON.stringify(fine.result)).toContain('/data/x');
      const forbidden = await raw.request({
        jsonrpc: '2.0',
        id: 100,
        method: 'tools/call',
        params: { name: 'write_file', arguments: { path: '/etc/shadow' } },
      });
      expect(JSON.stringify(forbidden.result)).toContain('no-etc');
    } finally {
      await raw.close();
    }
  });
});
