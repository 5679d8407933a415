import type { SendMessageRequest } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { A2A_MESSAGE_TOOL } from '../../src/a2a/inbound-calls.js';
import type { Signer } from '../../src/core/ed25519.js';
import { jcsDigest } from '../../src/core/jcs.js';
import { A2A_POST_HEADERS, startNodeWithSender, type TestNode } from './harness.js';
import { DECLARED, signedRequest } from './signed-message.js';

/**
 * The gateway refuses a body nested past its limit before any parser sees it. For a message to
 * an A2A agent that refusal is still the pipeline's: a JSON-RPC error (-32046
 * OACP_MESSAGE_LIMITS) an A2A client understands, a security event, and one receipt in the
 * node's log; it used to be the gateway's bare HTTP 400, unrecorded.
 */
describe('A2A at the gateway: a message nested past the body limit', () => {
  let node: TestNode;
  let client: Client;
  let sender: Signer;

  beforeAll(async () => {
    ({ node, sender, client } = await startNodeWithSender());
  });
  afterAll(async () => node?.close());

  function deepRequest(depth: number): SendMessageRequest {
    let deep: unknown = 'x';
    for (let i = 0; i < depth; i++) deep = [deep];
    const request = signedRequest(sender, '', 'hello');
    const message = request.message;
    if (message === undefined) throw new Error('no message');
    return {
      ...request,
      message: {
        ...message,
        parts: [
          ...message.parts,
          { content: { $case: 'data', value: deep }, metadata: undefined, filename: '', mediaType: '' },
        ],
      },
    };
  }

  it('attack: the official SDK client sends data nested 100 deep: -32046 with a receipt, and the agent does not run', async () => {
    const size = node.gateway.node.log.size;
    const events = node.events.length;
    const error = await client.sendMessage(deepRequest(100), DECLARED).then(
      () => {
        throw new Error('the message was not refused');
      },
      (e: unknown) => e as { message: string; envelopeCode?: number },
    );
    expect(error).toMatchObject({
      envelopeCode: -32046,
      message: expect.stringMatching(
        /OACP_MESSAGE_LIMITS: the request body nests more than 64 levels deep \(the limit\) \(receipt #\d+\)/,
      ),
    });
    const index = Number(/receipt #(\d+)/.exec(error.message)?.[1]);
    expect(index).toBe(size);
    expect(node.gateway.node.log.size).toBe(size + 1);
    const predicate = await node.predicateAt(index);
    expect(predicate.tool.name).toBe(A2A_MESSAGE_TOOL);
    expect(predicate.policy).toMatchObject({ effect: 'deny', policyId: 'oacp/shape' });
    expect(predicate.argumentsDigest).toBe(jcsDigest(null));
    expect(node.events.slice(events)).toEqual([
      expect.objectContaining({ type: 'malformed_request', agent: 'alice' }),
    ]);
  });

  it('attack: a raw body nested 300,000 deep is refused alike, and the gateway keeps serving', async () => {
    const size = node.gateway.node.log.size;
    const depth = 300_000;
    const body = `{"jsonrpc":"2.0","id":7,"method":"SendMessage","params":{"message":{"messageId":"m1","role":"ROLE_USER","parts":[{"data":${'['.repeat(depth)}${']'.repeat(depth)}}]}}}`;
    const response = await fetch(`${node.url}/a2a/alice`, {
      method: 'POST',
      headers: A2A_POST_HEADERS,
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32046,
        message: `OACP_MESSAGE_LIMITS: the request body nests more than 64 levels deep (the limit) (receipt #${size})`,
      },
    });
    expect(node.gateway.node.log.size).toBe(size + 1);
    const card = await fetch(`${node.url}/a2a/alice/.well-known/agent-card.json`);
    expect(card.status).toBe(200);
  });

  it('answers the gateway 400 for an agent it does not serve as a JSON-RPC error (id null: unread), unrecorded', async () => {
    const size = node.gateway.node.log.size;
    const deep = `{"a":${'['.repeat(100)}${']'.repeat(100)}}`;
    for (const path of ['/a2a/nobody', '/a2a/%E0%A4%A']) {
      const response = await fetch(`${node.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: deep,
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32600,
          message: 'BAD_REQUEST: the request body nests more than 64 levels deep (the limit)',
        },
      });
    }
    expect(node.gateway.node.log.size).toBe(size);
  });
});
