import { afterAll, describe, expect, it } from 'vitest';
import { receiptOutcomes, startModelChild } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const BUDGET = 5000;

/**
 * A model call's budget is reserved in the store before the provider is
 * asked; if the gateway dies (kill -9) before settling, the whole
 * reservation stays spent after a restart: a crash never credits a budget
 * back without a record.
 */
describe('model budget across kill -9 between reservation and settlement', () => {
  const cleanup: Array<() => void | Promise<void>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('keeps the reservation of an unsettled call after the gateway is killed and restarted', async () => {
    const provider: StandIn = await startStandIn('slow');
    cleanup.push(() => provider.close());
    const gw = await startModelChild(
      'oacp-model-crash-',
      {
        providers: [{ name: 'slow', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: BUDGET },
      },
      cleanup,
    );

    provider.queue('slow');
    const call = (url: URL) =>
      fetch(new URL('/v1/chat/completions', url), {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.agentKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }], max_tokens: 300 }),
      });
    const inFlight = call(gw.child.url).catch(() => undefined);
    for (let i = 0; i < 200 && provider.received.length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(provider.received).toHaveLength(1);
    gw.child.process.kill('SIGKILL');
    await gw.child.exited;
    await inFlight;
    const reserved = await gw.usedTokens(BUDGET);
    // The input estimate plus the whole output cap, never settled.
    expect(reserved).toBeGreaterThan(300);

    const answer = await call((await gw.restart()).url);
    expect(answer.status).toBe(200);
    // The new call settled at its real usage (11 input + 10 output); the crashed one still holds its
    // reservation. Settlements are written after the answer: a clean stop writes them before it ends.
    gw.child.process.kill('SIGTERM');
    await gw.child.exited;
    expect(await gw.usedTokens(BUDGET)).toBe(reserved + 21);

    // The killed call has its receipt all the same: recorded from its intent when the gateway
    // restarted (outcome interrupted, the reservation named), beside the new call's.
    expect(await receiptOutcomes(gw.home)).toEqual([
      { outcome: 'interrupted', reservedTokens: reserved },
      { outcome: 'ok', reservedTokens: expect.any(Number) },
    ]);
  }, 120_000);
});
