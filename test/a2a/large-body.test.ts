import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { A2A_MESSAGE_TOOL } from '../../src/a2a/inbound-calls.js';
import { jcsDigest } from '../../src/core/jcs.js';
import { A2A_POST_HEADERS, startNodeWithSender, type TestNode } from './harness.js';

const LIMIT = 1024 * 1024;
const TOO_LARGE = `OACP_MESSAGE_LIMITS: request bodies are limited to ${LIMIT} bytes`;

/**
 * Issue 10: a message to an A2A agent over the gateway's 1 MiB body limit was answered with the
 * gateway's bare 413 and left no receipt, while one nested too deep got the pipeline's refusal
 * and a receipt. Both are now one path (Mount.refuseUnread): -32046 OACP_MESSAGE_LIMITS, a
 * security event and one receipt, whether the length is declared up front or the body is
 * chunked and cut as it arrives.
 */
describe('A2A at the gateway: a message over the body size limit', () => {
  let node: TestNode;

  beforeAll(async () => {
    ({ node } = await startNodeWithSender());
  });
  afterAll(async () => node?.close());

  const message = `{"jsonrpc":"2.0","id":7,"method":"SendMessage","params":{"message":{"messageId":"m1","role":"ROLE_USER","parts":[{"text":"${'x'.repeat(2 * LIMIT)}"}]}}}`;

  /** POSTs `body` to `path`, with its length declared or chunked; the status and the text answered. */
  function post(path: string, body: string, chunked: boolean): Promise<{ status: number; text: string }> {
    const url = new URL(`${node.url}${path}`);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            ...A2A_POST_HEADERS,
            ...(chunked ? {} : { 'content-length': Buffer.byteLength(body) }),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      // The server may answer and close before the whole body is sent: the answer is what counts.
      req.on('error', reject);
      const bytes = Buffer.from(body);
      for (let at = 0; at < bytes.length; at += 64 * 1024) req.write(bytes.subarray(at, at + 64 * 1024));
      req.end();
    });
  }

  for (const [how, chunked] of [
    ['its length declared', false],
    ['chunked', true],
  ] as const) {
    it(`attack: a 2 MiB message to alice, ${how}: -32046 with a receipt, and the agent does not run`, async () => {
      const size = node.gateway.node.log.size;
      const events = node.events.length;
      const answer = await post('/a2a/alice', message, chunked);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32046, message: `${TOO_LARGE} (receipt #${size})` },
      });
      expect(node.gateway.node.log.size).toBe(size + 1);
      const predicate = await node.predicateAt(size);
      expect(predicate.tool.name).toBe(A2A_MESSAGE_TOOL);
      expect(predicate.policy).toMatchObject({ effect: 'deny', policyId: 'oacp/shape' });
      expect(predicate.argumentsDigest).toBe(jcsDigest(null));
      expect(node.events.slice(events)).toEqual([
        expect.objectContaining({ type: 'malformed_request', agent: 'alice' }),
      ]);
      expect((await fetch(`${node.url}/a2a/alice/.well-known/agent-card.json`)).status).toBe(200);
    });
  }

  it('answers a 413 for an agent it does not serve as a JSON-RPC error (id null: unread), unrecorded', async () => {
    const size = node.gateway.node.log.size;
    for (const chunked of [false, true]) {
      const answer = await post('/a2a/nobody', message, chunked);
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.text)).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32046, message: expect.stringMatching(/^OACP_MESSAGE_LIMITS: PAYLOAD_TOO_LARGE: /) },
      });
    }
    expect(node.gateway.node.log.size).toBe(size);
  });
});
