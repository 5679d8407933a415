import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callA2aAgent } from '../../src/a2a/client.js';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { startNode, type TestNode } from './harness.js';

/** Garbage in: every answer is a JSON-RPC error or a refusal, never a 5xx, and the node keeps serving. */
describe('A2A endpoint robustness', () => {
  let node: TestNode;
  const caller = keySigner(generateEd25519().privateKey);

  beforeAll(async () => {
    node = await startNode([{ from: didKeyFromPublicKey(caller.publicKey), to: 'alice' }]);
    await node.agent('alice');
  });
  afterAll(async () => node?.close());

  const post = async (body: string, version: string | undefined) => {
    const response = await fetch(`${node.url}/a2a/alice`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'A2A-Extensions': OACP_A2A_EXTENSION,
        ...(version === undefined ? {} : { 'A2A-Version': version }),
      },
      body,
    });
    return { status: response.status, text: await response.text() };
  };

  const part = fc.oneof(
    fc.record({ text: fc.string() }),
    fc.record({ data: fc.jsonValue() }),
    fc.record({ url: fc.string() }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 3 }),
  );
  const message = fc.record(
    {
      messageId: fc.oneof(fc.uuid(), fc.string(), fc.integer()),
      role: fc.constantFrom('ROLE_USER', 'ROLE_AGENT', 'user', 'x', 1),
      parts: fc.array(part, { maxLength: 3 }),
      metadata: fc.oneof(
        fc.constant(undefined),
        fc.jsonValue(),
        fc.constant({ [OACP_A2A_EXTENSION]: { signature: {} } }),
      ),
      kind: fc.constantFrom('message', undefined),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    fc.record({
      jsonrpc: fc.constantFrom('2.0', '1.0'),
      id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
      method: fc.constantFrom(
        'SendMessage',
        'SendStreamingMessage',
        'GetTask',
        'CancelTask',
        'message/send',
        'tasks/get',
        'nope',
      ),
      params: fc.oneof(
        fc.record({ message }, { requiredKeys: [] }),
        fc.record({ id: fc.jsonValue() }),
        fc.jsonValue(),
      ),
    }),
    fc.jsonValue(),
  );

  it('answers 200 random requests with JSON-RPC errors and stays up', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('1.0', '0.3', undefined), async (value, version) => {
        const answer = await post(JSON.stringify(value), version);
        expect(answer.status).toBeLessThan(500);
        const parsed = JSON.parse(answer.text) as { error?: { code: number; message: string } };
        // Unsigned by construction, so nothing random can get a task run.
        expect(parsed.error?.code).toEqual(expect.any(Number));
        expect(parsed.error?.message).toEqual(expect.any(String));
      }),
      { numRuns: 200 },
    );
    const ok = await callA2aAgent({ url: `${node.url}/a2a/alice`, text: 'still here', signer: caller });
    expect(ok.trustLevel).toBe('Standard');
  });

  it('refuses bodies that are not JSON, or too large for the gateway', async () => {
    expect(JSON.parse((await post('{"jsonrpc":', '1.0')).text)).toMatchObject({ error: { code: -32700 } });
    const huge = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'SendMessage',
      params: {
        message: {
          messageId: randomUUID(),
          role: 'ROLE_USER',
          parts: [{ text: 'x'.repeat(2 * 1024 * 1024) }],
        },
      },
    });
    // Refused unread like a body nested too deep: the pipeline's -32046, with a receipt (large-body.test.ts).
    const refused = await post(huge, '1.0');
    expect(refused.status).toBe(200);
    expect(JSON.parse(refused.text)).toMatchObject({
      error: {
        code: -32046,
        message: expect.stringMatching(/^OACP_MESSAGE_LIMITS: request bodies are limited/),
      },
    });
  });
});
