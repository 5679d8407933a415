import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { eventually, initialized, rawHarness } from './raw-harness.js';

/** What the client may send: well-formed calls, malformed ones, calls as notifications, other traffic. */
const argumentsArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 4 }),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 100, max: 400 }).map((depth) => ({
      nested: JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown,
    })),
  },
);

/** How the server answers (the raw server reads `_reply`), or a deep result from `deep-result`. */
const replyArb = fc.constantFrom(undefined, 'error', 'tool-error');

const messageArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      // `hidden` is not listed but answered; `nosuch` the server does not have (an error); '' names nothing.
      tool: fc.constantFrom('echo', 'hidden', 'deep-result', 'nosuch', ''),
      args: argumentsArb,
      reply: replyArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('notified-call' as const), args: argumentsArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('imitated-call' as const),
      method: fc.constantFrom(
        'Tools/call',
        'tools/call ',
        'tools\u200b/call',
        'TOOLS/CALL',
        '\ufefftools/call',
      ),
      args: argumentsArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('batched-calls' as const),
      args: fc.array(argumentsArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ping' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('garbage' as const), text: fc.string({ maxLength: 20 }) }),
  },
);

function withReply(args: unknown, reply: string | undefined, key: number): unknown {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return args;
  return reply === undefined ? { ...args, _k: key } : { ...args, _k: key, _reply: reply };
}

describe('property: every tools/call the server received has exactly one receipt digesting what it received', () => {
  it('holds for random client and server traffic', async () => {
    // The property is one receipt per call, refusals included: the refusal receipt limit (past it, refusals
    // are counted in a summary receipt: test/mcp/refusal-receipt-flood.test.ts) is raised past these runs'.
    const raw = await rawHarness({
      refusalReceipts: { perSourcePerMinute: 100_000, overallPerMinute: 100_000 },
    });
    let nextId = 1;
    let callsSent = 0;
    try {
      await initialized(raw);
      await fc.assert(
        fc.asyncProperty(fc.array(messageArb, { minLength: 1, maxLength: 8 }), async (batch) => {
          const answers: Promise<unknown>[] = [];
          for (const message of batch) {
            const id = nextId++;
            if (message.kind === 'call') {
              callsSent++;
              const args = withReply(message.args, message.reply, id);
              const params =
                message.tool === 'deep-result'
                  ? { name: 'deep-result', arguments: { depth: 150 + (id % 50), _k: id } }
                  : { name: message.tool, ...(args === undefined ? {} : { arguments: args }) };
              answers.push(raw.request({ jsonrpc: '2.0', id, method: 'tools/call', params }));
            } else if (message.kind === 'notified-call') {
              callsSent++;
              raw.send({
                jsonrpc: '2.0',
                method: 'tools/call',
                params: { name: 'echo', arguments: message.args },
              });
            } else if (message.kind === 'imitated-call') {
              callsSent++;
              const params = {
                name: 'echo',
                ...(message.args === undefined ? {} : { arguments: message.args }),
              };
              answers.push(raw.request({ jsonrpc: '2.0', id, method: message.method, params }));
            } else if (message.kind === 'batched-calls') {
              // MCP forbids JSON-RPC batches: refused whole, each call in it recorded.
              callsSent += message.args.length;
              raw.send(
                JSON.stringify(
                  message.args.map((args, k) => ({
                    jsonrpc: '2.0',
                    id: `${id}-${k}`,
                    method: 'tools/call',
                    params: { name: 'echo', ...(args === undefined ? {} : { arguments: args }) },
                  })),
                ),
              );
            } else if (message.kind === 'ping') {
              answers.push(raw.request({ jsonrpc: '2.0', id, method: 'ping' }));
            } else {
              raw.send(message.text.replaceAll('\n', ' '));
            }
          }
          await Promise.all(answers);
          // Every tools/call sent, answered or not, has its receipt.
          await eventually(() => raw.receipts.records.length === callsSent, `${callsSent} receipts`);
          const received = raw
            .serverGot()
            .filter((m) => m.method === 'tools/call')
            .map((m) => jcsDigest((m.params as { arguments?: unknown }).arguments ?? {}))
            .sort();
          const forwarded = raw.receipts.records
            .filter((r) => r.outcome !== 'denied')
            .map((r) => r.argumentsDigest)
            .sort();
          expect(forwarded).toEqual(received);
        }),
        { numRuns: 20 },
      );
    } finally {
      await raw.close();
    }
  }, 120_000);
});
