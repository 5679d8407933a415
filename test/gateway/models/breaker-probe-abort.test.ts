import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const COOLDOWN = 300;

/**
 * Issue 14 (docs/model-gateway.md, "Routing, retries, failover, breakers": after `cooldown_ms`
 * one probe call goes through, and its outcome closes or reopens the breaker). A probe whose
 * client went away while the provider had it reported no outcome, so the breaker kept waiting
 * for it: every later call was refused "circuit breaker open" until the gateway restarted, a
 * provider taken out for good by one client hanging up.
 */
describe('a breaker probe whose client goes away', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    provider = await startStandIn('probed');
    gw = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'probed', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        breaker: { failures: 1, cooldown_ms: COOLDOWN },
      }),
    });
    key = (await modelAgent(gw, 'hanger', ['*'])).key;
    await putProviderKey(gw, 'probed', 'sk-probed-0123456789');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const chat = async (signal?: AbortSignal) => {
    const answer = await request(new URL('/v1/chat/completions', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'gpt-test', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
      ...(signal === undefined ? {} : { signal }),
    });
    return { status: answer.statusCode, text: await answer.body.text() };
  };

  it('attack: the probe is cancelled by its client; the next call after it is the probe, and a good one closes the breaker', async () => {
    provider.queue('500');
    expect((await chat()).status).toBe(502);
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN + 50));

    // The probe: the provider answers slowly, and the client hangs up while it has the call.
    provider.queue('slow');
    const sent = provider.received.length;
    const hangUp = new AbortController();
    const probe = chat(hangUp.signal).catch((error: Error) => error);
    for (let i = 0; i < 200 && provider.received.length === sent; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const logged = gw.gateway.services.log.size;
    hangUp.abort();
    expect(await probe).toBeInstanceOf(Error);
    // The gateway writes the cancelled call's receipt after the client has gone: wait for it, not for a time.
    await expect.poll(() => gw.gateway.services.log.size).toBeGreaterThan(logged);
    const cancelled = await receiptAt<{ outcome: string }>(gw, logged);
    expect(cancelled.predicate.outcome).toBe('failed');

    // No verdict on the provider came of it: the next call probes, and its answer closes the breaker.
    const next = await chat();
    expect(next.text).not.toMatch(/circuit breaker/);
    expect(next.status).toBe(200);
    expect((await chat()).status).toBe(200);
  });
});
