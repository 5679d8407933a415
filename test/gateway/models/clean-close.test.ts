import { afterAll, describe, expect, it } from 'vitest';
import { OacpClient } from '../../../src/client/index.js';
import { batchStore } from '../../../src/gateway/models/batch-store.js';
import { defaultStorePath, openStore } from '../../../src/store/open-store.js';
import { startModelChild } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const BUDGET = 5000;
const ITEMS = 4;

interface Line {
  custom_id: string;
  response: { status_code: number };
  oacp_receipt: number | null;
}

/**
 * A batch running while the gateway stops cleanly (SIGTERM): the stop cancels
 * it, and every item ends settled (answered, or kept spent because the
 * provider may have run it) or refunded (never sent), each with a receipt;
 * the budget's counter then holds exactly what the receipts charge, no
 * reservation left over.
 */
describe('a batch cancelled by a clean stop of the gateway (SIGTERM)', () => {
  const cleanup: Array<() => void | Promise<void>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('ends cancelled with a receipt for every item, and the budget charged exactly what they say', async () => {
    const provider: StandIn = await startStandIn('slow');
    cleanup.push(() => provider.close());
    const gw = await startModelChild(
      'oacp-model-sigterm-',
      {
        providers: [{ name: 'slow', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: BUDGET },
        batch_concurrency: 1,
      },
      cleanup,
    );
    const key = gw.agentKey;

    // The first item answers; the second is slow, so the stop finds it in flight and the rest unsent.
    provider.queue('ok', 'slow');
    const created = await fetch(new URL('/v1/batches', gw.child.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        endpoint: '/v1/chat/completions',
        requests: Array.from({ length: ITEMS }, (_, i) => ({
          custom_id: `q${i}`,
          body: { model: 'm', messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 100 },
        })),
      }),
    });
    expect(created.status).toBe(200);
    const { id } = (await created.json()) as { id: string };
    for (let i = 0; i < 400 && provider.received.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(provider.received).toHaveLength(2);

    gw.child.process.kill('SIGTERM');
    await gw.child.exited;
    expect(gw.child.process.exitCode).toBe(0);
    // Nothing more was sent after the stop.
    expect(provider.received).toHaveLength(2);

    const after = await openStore(defaultStorePath(gw.home));
    let lines: Line[];
    try {
      const row = await batchStore(after.sql).get(gw.agentId, id);
      expect(row?.status).toBe('cancelled');
      lines = (row?.results ?? '')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Line);
    } finally {
      await after.close();
    }
    const used = await gw.usedTokens(BUDGET);
    expect(lines.map((line) => [line.custom_id, line.response.status_code])).toEqual([
      ['q0', 200],
      ['q1', 502],
      ['q2', 502],
      ['q3', 502],
    ]);
    expect(lines.every((line) => Number.isInteger(line.oacp_receipt))).toBe(true);

    // Each receipt says what its item was charged: the answer its usage, the one in flight its whole
    // reservation (the provider may have run it), the unsent nothing. The counter holds that sum.
    const client = new OacpClient({ baseUrl: (await gw.restart()).url, apiKey: gw.admin });
    const usages: { outcome: string; reservedTokens: number; chargedTokens: number }[] = [];
    for (const line of lines) {
      const { envelope } = await client.receipt(line.oacp_receipt ?? -1);
      const predicate = JSON.parse(
        Buffer.from((envelope as { payload: string }).payload, 'base64').toString('utf8'),
      ).predicate as {
        agent: { did: string };
        outcome: string;
        usage: { reservedTokens: number; chargedTokens: number };
      };
      expect(predicate.agent.did).toBe(gw.agentId);
      usages.push({ outcome: predicate.outcome, ...predicate.usage });
    }
    expect(usages.map((u) => u.outcome)).toEqual(['ok', 'failed', 'failed', 'failed']);
    expect(usages[1]?.chargedTokens).toBe(usages[1]?.reservedTokens);
    expect(usages.slice(2).map((u) => u.chargedTokens)).toEqual([0, 0]);
    const charged = usages.reduce((sum, u) => sum + u.chargedTokens, 0);
    expect(used).toBe(charged);
    expect(used).toBeGreaterThan(100);
  }, 120_000);
});
