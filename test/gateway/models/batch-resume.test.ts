import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { OacpClient } from '../../../src/client/index.js';
import { defaultStorePath, openStore } from '../../../src/store/open-store.js';
import { type ModelChild, startModelChild } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const BUDGET = 50_000;
const ITEMS = 4;

interface ItemReceipt {
  index: number;
  item: number;
  outcome: string;
  chargedTokens: number;
}

/**
 * A batch running when its gateway is killed (SIGKILL, a real gateway process)
 * resumes when the gateway starts again on the same home. The provider is the
 * stand-in (a local HTTP server in this folder: no remote provider can be
 * reached here), which counts what it was asked. At the end every item has
 * exactly one receipt, the provider saw each item at most once, the budget
 * counter holds exactly what the receipts charge, and the official `openai`
 * SDK's `batches.retrieve` shows the batch completed.
 */
describe('a batch resumed after its gateway was killed (SIGKILL) and started again', () => {
  const cleanup: Array<() => void | Promise<void>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  const sdkOf = (gw: ModelChild) =>
    new OpenAI({ apiKey: gw.agentKey, baseURL: new URL('/v1', gw.child.url).toString(), maxRetries: 0 });

  const create = (gw: ModelChild, word = 'question') =>
    sdkOf(gw).batches.create({
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      requests: Array.from({ length: ITEMS }, (_, i) => ({
        custom_id: `q${i}`,
        body: { model: 'm', messages: [{ role: 'user', content: `${word} ${i}` }], max_tokens: 50 },
      })),
    } as unknown as OpenAI.Batches.BatchCreateParams);

  async function ended(gw: ModelChild, id: string): Promise<OpenAI.Batches.Batch> {
    for (let i = 0; i < 1500; i++) {
      const batch = await sdkOf(gw).batches.retrieve(id);
      if (['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) return batch;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`batch ${id} did not end`);
  }

  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 1000 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(check()).toBe(true);
  }

  /** Every receipt in the log that names an item of batch `id`. */
  async function receiptsOf(gw: ModelChild, id: string): Promise<ItemReceipt[]> {
    const client = new OacpClient({ baseUrl: gw.child.url, apiKey: gw.admin });
    const found: ItemReceipt[] = [];
    // Every receipt in the log, up to the first index it does not hold yet (a checkpoint may lag behind).
    for (let index = 0; ; index++) {
      const fetched = await client.receipt(index).catch(() => undefined);
      if (fetched === undefined) break;
      const { envelope } = fetched;
      const statement = JSON.parse(
        Buffer.from((envelope as { payload: string }).payload, 'base64').toString('utf8'),
      ) as {
        predicate: {
          agent?: { did: string };
          batch?: { id: string; item: number };
          outcome: string;
          usage?: { chargedTokens?: number };
        };
      };
      const { predicate } = statement;
      if (predicate.batch?.id !== id) continue;
      expect(predicate.agent?.did).toBe(gw.agentId);
      found.push({
        index,
        item: predicate.batch.item,
        outcome: predicate.outcome,
        chargedTokens: predicate.usage?.chargedTokens ?? -1,
      });
    }
    return found;
  }

  /** How many times the provider was asked each item (directly or inside one of its batches). */
  const askedPerItem = (provider: StandIn) =>
    Array.from(
      { length: ITEMS },
      (_, i) =>
        provider.received.filter(
          (r) =>
            r.path === '/v1/chat/completions' &&
            JSON.stringify(r.body.messages ?? '').includes(`question ${i}`),
        ).length,
    );

  /** What every item-level guarantee says once the resumed batch ended. */
  async function expectSettled(gw: ModelChild, provider: StandIn, id: string, others: string[] = []) {
    const done = await ended(gw, id);
    expect(done.status).toBe('completed');
    expect(done.request_counts?.total).toBe(ITEMS);
    const receipts = await receiptsOf(gw, id);
    // Exactly one receipt per item, none charged a negative or unknown amount.
    expect(receipts.map((r) => r.item).sort()).toEqual([0, 1, 2, 3]);
    expect(receipts.every((r) => r.chargedTokens >= 0)).toBe(true);
    // The provider saw each item at most once.
    expect(askedPerItem(provider).every((n) => n <= 1)).toBe(true);
    // The output file names the same receipts.
    const lines = (await (await sdkOf(gw).files.content(done.output_file_id ?? '')).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { custom_id: string; oacp_receipt: number | null });
    expect(lines.map((line) => line.custom_id)).toEqual(['q0', 'q1', 'q2', 'q3']);
    expect(lines.map((line) => line.oacp_receipt)).toEqual(
      [0, 1, 2, 3].map((item) => receipts.find((r) => r.item === item)?.index),
    );
    // The budget counter holds exactly what the receipts say was charged: nothing credited back without one.
    // The agent's other batches count too.
    let charged = receipts.reduce((sum, r) => sum + r.chargedTokens, 0);
    for (const other of others)
      charged += (await receiptsOf(gw, other)).reduce((sum, r) => sum + r.chargedTokens, 0);
    gw.child.process.kill('SIGTERM');
    await gw.child.exited;
    expect(await gw.usedTokens(BUDGET)).toBe(charged);
    return { receipts, done };
  }

  it('killed mid-items on the direct path: the item in flight ends failed and charged, the rest are sent once', async () => {
    const provider = await startStandIn('direct');
    cleanup.push(() => provider.close());
    const gw = await startModelChild(
      'oacp-batch-resume-direct-',
      {
        providers: [{ name: 'direct', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: BUDGET },
        batch_concurrency: 1,
      },
      cleanup,
    );
    // The first item answers, the second is slow: the kill finds it with the provider.
    provider.queue('ok', 'slow');
    const created = await create(gw);
    await until(() => provider.received.length === 2);
    gw.child.process.kill('SIGKILL');
    await gw.child.exited;

    await gw.restart();
    const { receipts } = await expectSettled(gw, provider, created.id);
    const byItem = new Map(receipts.map((r) => [r.item, r]));
    expect(byItem.get(0)?.outcome).toBe('ok');
    // In flight at the kill: never sent again, failed, charged what it drew (the provider may have run it).
    expect(byItem.get(1)?.outcome).toBe('failed');
    expect(byItem.get(1)?.chargedTokens).toBeGreaterThan(50);
    expect(askedPerItem(provider)).toEqual([1, 1, 1, 1]);
    expect([byItem.get(2)?.outcome, byItem.get(3)?.outcome]).toEqual(['ok', 'ok']);
  }, 180_000);

  it("killed after the provider batch was submitted: re-attached by the provider's batch id, never submitted again", async () => {
    const provider = await startStandIn('gpt');
    cleanup.push(() => provider.close());
    const gw = await startModelChild(
      'oacp-batch-resume-provider-',
      {
        providers: [
          { name: 'gpt', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0, batch_api: true },
        ],
        budgets: { tokens_per_hour: BUDGET },
        batch_poll_ms: 20,
      },
      cleanup,
    );
    provider.holdBatches(true);
    const submissions = () =>
      provider.batchCalls.filter((c) => c.method === 'POST' && c.path === '/v1/batches').length;
    const created = await create(gw);
    await until(() => submissions() === 1);
    // Let the gateway write the provider's batch id (it polls only after that).
    await until(() =>
      provider.batchCalls.some((c) => c.method === 'GET' && c.path.startsWith('/v1/batches/')),
    );
    // A second batch, cancelled before the kill, stays cancelled after it.
    const cancelled = await create(gw, 'cancelled');
    await until(() => submissions() === 2);
    await sdkOf(gw).batches.cancel(cancelled.id);
    expect((await ended(gw, cancelled.id)).status).toBe('cancelled');
    gw.child.process.kill('SIGKILL');
    await gw.child.exited;

    await gw.restart();
    provider.holdBatches(false);
    expect((await sdkOf(gw).batches.retrieve(cancelled.id)).status).toBe('cancelled');
    expect((await receiptsOf(gw, cancelled.id)).map((r) => r.item).sort()).toEqual([0, 1, 2, 3]);
    const { receipts } = await expectSettled(gw, provider, created.id, [cancelled.id]);
    expect(submissions()).toBe(2);
    expect(provider.received.some((r) => JSON.stringify(r.body.messages ?? '').includes('cancelled'))).toBe(
      false,
    );
    expect(receipts.every((r) => r.outcome === 'ok')).toBe(true);
    expect(askedPerItem(provider)).toEqual([1, 1, 1, 1]);
  }, 180_000);

  it('killed during settlement: a batch whose items all ended but whose settlement and last row were not written settles once', async () => {
    const provider = await startStandIn('settle');
    cleanup.push(() => provider.close());
    const gw = await startModelChild(
      'oacp-batch-resume-settle-',
      {
        providers: [{ name: 'settle', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: BUDGET },
      },
      cleanup,
    );
    const created = await create(gw);
    expect((await ended(gw, created.id)).status).toBe('completed');
    const before = await receiptsOf(gw, created.id);
    expect(before).toHaveLength(ITEMS);
    gw.child.process.kill('SIGKILL');
    await gw.child.exited;
    // The kill cannot be timed into the few statements between the last receipt and the batch's settlement,
    // so the store is put back, statement by statement, to what a kill there leaves: the batch row still in
    // progress, the last item's row not yet done (its receipt is in the log), the settlement not written (the
    // whole reservation and the batch's marker still taken).
    const store = await openStore(defaultStorePath(gw.home));
    try {
      const row = await store.sql.get<{ batch: string; run: string }>(
        'SELECT batch, run FROM model_batches WHERE id = ?',
        [created.id],
      );
      const object = { ...JSON.parse(row?.batch ?? '{}'), status: 'in_progress', output_file_id: null };
      await store.sql.run(
        "UPDATE model_batches SET status = 'in_progress', batch = ?, results = NULL WHERE id = ?",
        [JSON.stringify(object), created.id],
      );
      const last = await store.sql.get<{ progress: string }>(
        'SELECT progress FROM model_batch_items WHERE batch_id = ? AND item = 3',
        [created.id],
      );
      const { drawn } = JSON.parse(last?.progress ?? '{}') as { drawn: unknown };
      await store.sql.run(
        "UPDATE model_batch_items SET state = 'sent', progress = ? WHERE batch_id = ? AND item = 3",
        [JSON.stringify({ drawn }), created.id],
      );
      const run = JSON.parse(row?.run ?? '{}') as {
        reservation: { tokenParts: { parts: { key: string; amount: number }[] } };
      };
      const charged = before.reduce((sum, r) => sum + r.chargedTokens, 0);
      const now = Date.now();
      for (const part of run.reservation.tokenParts.parts)
        await store.quotaBuckets.adjust(part.key, -(part.amount - charged), now);
      await store.quotaBuckets.adjust(`batch:${created.id}:unsettled`, -1, now);
      expect(await gw.usedTokens(BUDGET)).toBe(run.reservation.tokenParts.parts[0]?.amount);
    } finally {
      await store.close();
    }

    await gw.restart();
    const { receipts } = await expectSettled(gw, provider, created.id);
    // No receipt was added: the last item's was found in the log and kept; the batch settled once.
    expect(receipts).toEqual(before);
    expect(askedPerItem(provider)).toEqual([1, 1, 1, 1]);
  }, 180_000);
});
