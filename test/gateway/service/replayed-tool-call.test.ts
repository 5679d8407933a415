import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../../src/identity/signed-request.js';
import { MANIFEST, raw, startGateway, type TestGateway } from './harness.js';

/**
 * A native tool call over HTTP whose signed request is replayed: the replay
 * is refused by authentication (401, a security event) and recorded as that
 * call refused at the pipeline's identity step, one receipt naming the
 * replay; the tool does not run again.
 */
describe('a replayed signed tool call over HTTP', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => gw?.close());

  it('attack: the replay is a 401 and one receipt naming the replayed nonce', async () => {
    const agent = await gw.client.createAgent({ name: 'replayer', manifest: MANIFEST });
    const signer = await gw.gateway.services.agents.signer(agent.id);
    if (signer === undefined) throw new Error('no signer');
    const path = '/v1/tools/echo/call';
    const body = JSON.stringify({ arguments: { text: 'once' } });
    const signed = signRequest(signer, { purpose: `POST ${path}`, payload: body });
    const init = {
      method: 'POST',
      headers: {
        'oacp-signed-request': Buffer.from(JSON.stringify(signed)).toString('base64url'),
        'content-type': 'application/json',
      },
      body,
    };
    const log = gw.gateway.node.log;
    const first = await raw(gw.url, path, init);
    expect(first.status).toBe(200);
    const afterFirst = log.size;
    const replay = await raw(gw.url, path, init);
    expect(replay.status).toBe(401);
    expect(replay.json).toMatchObject({ error: { message: expect.stringContaining('replayed nonce') } });
    expect(log.size).toBe(afterFirst + 1);
    const envelope = JSON.parse(Buffer.from(await log.entry(afterFirst)).toString('utf8')) as {
      payload: string;
    };
    const { predicate } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicate: {
        agent: { did?: string };
        tool: { name: string };
        policy: { effect: string; reason: string };
      };
    };
    expect(predicate).toMatchObject({
      agent: { did: agent.id },
      tool: { name: 'echo' },
      policy: { effect: 'deny', reason: expect.stringContaining('replayed nonce') },
    });
  });
});
