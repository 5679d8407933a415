import { open } from 'node:fs/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../../src/gateway/config/load.js';
import { startGateway, type TestGateway } from '../service/harness.js';
import {
  modelAgent,
  modelsConfig,
  putProviderKey,
  receiptAt,
  receiptOutcomes,
  startModelChild,
} from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

/** How long the log's fdatasync is held while a call's latency is measured. */
const SLOW_SYNC_MS = 1500;

/**
 * Issue 14 (added latency): `models.receipt_ack: queued` answers a model call once its receipt is
 * written to the OS, before the log's fsync, as the bridge's `--receipt-ack queued`; `durable`
 * (the default) after it. The reservation is durable before the provider gets the call either way.
 */
describe('models.receipt_ack', () => {
  let provider: StandIn;
  const gateways: Record<'durable' | 'queued', { gw: TestGateway; key: string }> = {} as never;

  beforeAll(async () => {
    provider = await startStandIn('acked');
    for (const ack of ['durable', 'queued'] as const) {
      const gw = await startGateway({
        config: modelsConfig({
          providers: [{ name: 'acked', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
          ...(ack === 'durable' ? {} : { receipt_ack: ack }),
        }),
      });
      await putProviderKey(gw, 'acked', 'sk-acked-0123456789');
      gateways[ack] = { gw, key: (await modelAgent(gw, `ack-${ack}`, ['*'])).key };
    }
  }, 60_000);

  afterAll(async () => {
    for (const { gw } of Object.values(gateways)) await gw?.close();
    await provider?.close();
  });

  /**
   * One call's status, receipt index and latency while every fdatasync of a file handle is held
   * for `holdMs` (or until the call is answered, when `release` is set), and whether the answer came
   * while one was still held.
   */
  const timedCall = async (ack: 'durable' | 'queued', hold: { holdMs: number; release?: boolean }) => {
    const { gw, key } = gateways[ack];
    const probe = await open(process.execPath, 'r');
    const handle = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const datasync = handle.datasync;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let syncEnded = false;
    const syncs: Promise<unknown>[] = [];
    handle.datasync = function (this: unknown) {
      const held = Promise.race([released, new Promise((resolve) => setTimeout(resolve, hold.holdMs))]).then(
        () => {
          syncEnded = true;
          return datasync.call(this);
        },
      );
      syncs.push(held.catch(() => undefined));
      return held;
    };
    try {
      const started = performance.now();
      const answer = await request(new URL('/v1/chat/completions', gw.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: 'gpt-test',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 8,
        }),
      });
      await answer.body.text();
      const ms = performance.now() - started;
      const beforeSync = syncs.length > 0 && !syncEnded;
      return { status: answer.statusCode, index: Number(answer.headers['oacp-receipt']), ms, beforeSync };
    } finally {
      handle.datasync = datasync;
      if (hold.release === true) release();
      // Let the held fsync end before the next call or the receipt is read.
      await Promise.all(syncs);
    }
  };

  it('durable (the default) answers only after the log fsynced the receipt', async () => {
    const { status, index, ms } = await timedCall('durable', { holdMs: SLOW_SYNC_MS });
    expect(status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(SLOW_SYNC_MS - 50);
    const receipt = await receiptAt<{ outcome: string }>(gateways.durable.gw, index);
    expect(receipt).toMatchObject({ verified: true, predicate: { outcome: 'ok' } });
  });

  it('queued answers once the receipt is written, not waiting for the fsync; the receipt is at the index it named', async () => {
    // Held far longer than any call takes on a loaded host, and let go once the answer is in: a gateway
    // that waited for the fsync answers only after it ends.
    const { status, index, beforeSync } = await timedCall('queued', { holdMs: 20_000, release: true });
    expect(status).toBe(200);
    expect(beforeSync).toBe(true);
    const receipt = await receiptAt<{ outcome: string }>(gateways.queued.gw, index);
    expect(receipt).toMatchObject({ verified: true, predicate: { outcome: 'ok' } });
  });

  it('attack: queued, the log fsync fails after the answer: later calls are refused before the provider gets them', async () => {
    const broken = await startGateway({
      config: modelsConfig({
        providers: [{ name: 'acked', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        receipt_ack: 'queued',
      }),
    });
    await putProviderKey(broken, 'acked', 'sk-acked-0123456789');
    const { key } = await modelAgent(broken, 'ack-broken', ['*']);
    const call = async () => {
      const answer = await request(new URL('/v1/chat/completions', broken.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: 'gpt-test',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 8,
        }),
      });
      return { status: answer.statusCode, text: await answer.body.text() };
    };
    const probe = await open(process.execPath, 'r');
    const handle = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const datasync = handle.datasync;
    handle.datasync = () =>
      Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    try {
      // Answered once its receipt is written; the fsync after it fails, and the log stops.
      expect((await call()).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The next call's receipt cannot be appended: the provider had it, so it is no success (its
      // intent stays pending, its receipt at the next start), and the slot closes.
      const second = await call();
      expect(second.status).toBe(500);
      expect(second.text).not.toContain('"choices"');
      const received = provider.received.length;
      const third = await call();
      expect(third.status).toBe(503);
      expect(third.text).toContain('receipt_unavailable');
      expect(provider.received.length).toBe(received);
    } finally {
      handle.datasync = datasync;
      await broken.close().catch(() => undefined);
    }
  });

  it('refuses a receipt_ack other than durable or queued, naming the field', () => {
    expect(() => parseGatewayConfig(modelsConfig({ receipt_ack: 'fast' }), '/tmp')).toThrow(
      /models\.receipt_ack/,
    );
  });
});

describe('models.receipt_ack queued across kill -9 right after the answer', () => {
  const cleanup: Array<() => void | Promise<void>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('the answered call keeps its receipt and its reservation stays on record, never credited back without one', async () => {
    const BUDGET = 5000;
    const provider = await startStandIn('queued-crash');
    cleanup.push(() => provider.close());
    const gw = await startModelChild(
      'oacp-model-queued-crash-',
      {
        providers: [{ name: 'queued-crash', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: BUDGET },
        receipt_ack: 'queued',
      },
      cleanup,
    );
    const answer = await fetch(new URL('/v1/chat/completions', gw.child.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.agentKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }], max_tokens: 300 }),
    });
    // Killed the moment the answer is in: before the log's fsync and the settlement, as it happens.
    gw.child.process.kill('SIGKILL');
    await gw.child.exited;
    expect(answer.status).toBe(200);
    const index = Number(answer.headers.get('oacp-receipt'));

    // The receipt was written before the answer: it is in the log, at the index the answer named.
    const outcomes = await receiptOutcomes(gw.home);
    expect(outcomes).toHaveLength(index + 1);
    const [receipt] = outcomes.slice(index);
    expect(receipt?.outcome).toBe('ok');
    // The reservation was durable before the provider got the call: the budget holds either it
    // whole (the settlement never ran) or the settled usage (11 input + 10 output), which the
    // receipt records; nothing was given back that no record accounts for.
    const used = await gw.usedTokens(BUDGET);
    expect([receipt?.reservedTokens, 21]).toContain(used);
    expect(receipt?.reservedTokens).toBeGreaterThan(300);

    // Its intent was marked done when the receipt was written: a restart records no second receipt.
    await gw.restart();
    gw.child.process.kill('SIGTERM');
    await gw.child.exited;
    expect(await receiptOutcomes(gw.home)).toEqual(outcomes);
  }, 120_000);
});
