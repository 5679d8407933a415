import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../../../src/core/jcs.js';
import { raw } from './harness.js';
import { receiptPredicate, signedToolCall } from './signed-call.js';
import { useGateway } from './use-gateway.js';

/**
 * Issue 10, gateway: an authenticated agent's tool call refused by the HTTP
 * layer before the pipeline (a body that is not a call, a call made as
 * another agent, an agent that is suspended) was answered 400/403/409 and
 * left no receipt. Each is now recorded as that call refused at the
 * pipeline's identity step, one receipt under the calling agent naming the
 * refusal; the answer is unchanged and the tool does not run.
 */
describe('an agent tool call refused before the pipeline', () => {
  const gw = useGateway();

  const notJson = '{"arguments": {"text": "x"';
  const cases = [
    [
      'a body that is not JSON',
      notJson,
      400,
      'the request body',
      jcsDigest({
        'oacp/unread': { sha256: createHash('sha256').update(notJson).digest('hex'), bytes: notJson.length },
      }),
    ],
    [
      'a body with a field the call does not have',
      JSON.stringify({ arguments: { text: 'x' }, as: 'root' }),
      400,
      'BAD_REQUEST',
      jcsDigest({ text: 'x' }),
    ],
    [
      'a call made as another agent',
      JSON.stringify({ agent: 'someone-else', arguments: { text: 'x' } }),
      403,
      'may call tools only as itself',
      jcsDigest({ text: 'x' }),
    ],
  ] as const;

  for (const [what, body, status, reason, digest] of cases) {
    it(`attack: ${what} is a ${status} and one receipt under the calling agent`, async () => {
      const { agent, path, init } = await signedToolCall(gw, `refused-${status}-${body.length}`, body);
      const log = gw.gateway.node.log;
      const size = log.size;
      const answer = await raw(gw.url, path, init);
      expect(answer.status).toBe(status);
      expect(log.size).toBe(size + 1);
      expect(await receiptPredicate(gw, size)).toMatchObject({
        agent: { did: agent.id },
        tool: { name: 'echo' },
        argumentsDigest: digest,
        outcome: 'denied',
        policy: { effect: 'deny', reason: expect.stringContaining(reason) },
      });
    });
  }

  it('attack: a suspended agent calling is refused and recorded', async () => {
    const { agent, path, init } = await signedToolCall(gw, 'refused-suspended');
    await gw.client.startAgent(agent.id);
    await gw.client.suspendAgent(agent.id);
    const log = gw.gateway.node.log;
    const size = log.size;
    const answer = await raw(gw.url, path, init);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(log.size).toBe(size + 1);
    expect(await receiptPredicate(gw, size)).toMatchObject({
      agent: { did: agent.id },
      tool: { name: 'echo' },
      policy: { effect: 'deny', reason: expect.stringContaining('suspended') },
    });
  });
});
