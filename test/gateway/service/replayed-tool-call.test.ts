import { describe, expect, it } from 'vitest';
import { raw } from './harness.js';
import { receiptPredicate, signedToolCall } from './signed-call.js';
import { useGateway } from './use-gateway.js';

/**
 * A native tool call over HTTP whose signed request is replayed: the replay
 * is refused by authentication (401, a security event) and recorded as that
 * call refused at the pipeline's identity step, one receipt naming the
 * replay; the tool does not run again.
 */
describe('a replayed signed tool call over HTTP', () => {
  const gw = useGateway();

  it('attack: the replay is a 401 and one receipt naming the replayed nonce', async () => {
    const { agent, path, init } = await signedToolCall(gw, 'replayer');
    const log = gw.gateway.node.log;
    const first = await raw(gw.url, path, init);
    expect(first.status).toBe(200);
    const afterFirst = log.size;
    const replay = await raw(gw.url, path, init);
    expect(replay.status).toBe(401);
    expect(replay.json).toMatchObject({ error: { message: expect.stringContaining('replayed nonce') } });
    expect(log.size).toBe(afterFirst + 1);
    expect(await receiptPredicate(gw, afterFirst)).toMatchObject({
      agent: { did: agent.id },
      tool: { name: 'echo' },
      policy: { effect: 'deny', reason: expect.stringContaining('replayed nonce') },
    });
  });
});
