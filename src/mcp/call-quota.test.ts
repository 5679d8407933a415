import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../airlock/quota/clock.js';
import { StoreQuotaEngine } from '../airlock/quota/store-engine.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/types.js';
import { CallRateQuota } from './call-quota.js';

describe('CallRateQuota', () => {
  const stores: Store[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  const engineAt = async (clock = manualClock()) => {
    const store = await openSqliteStore(':memory:');
    stores.push(store);
    return { engine: new StoreQuotaEngine(store, clock.now), clock, store };
  };

  it('serves a burst of N, refuses the next, and refills at N per minute', async () => {
    const { engine, clock } = await engineAt();
    const quota = new CallRateQuota(3, engine, 'files');
    const effects = [];
    for (let i = 0; i < 3; i++) effects.push((await quota.take('a')).effect);
    expect(effects).toEqual(['allow', 'allow', 'allow']);
    const refused = await quota.take('a');
    expect(refused.effect).toBe('deny');
    expect(refused.reason).toBe('call quota exceeded: 3 calls per minute; retry in about 20 s');
    clock.advance(20_000);
    expect((await quota.take('a')).effect).toBe('allow');
    expect((await quota.take('a')).effect).toBe('deny');
  });

  it('keeps one bucket per agent and server, shared by every bridge on the engine', async () => {
    const { engine } = await engineAt();
    const one = new CallRateQuota(1, engine, 'files');
    const two = new CallRateQuota(1, engine, 'files');
    expect((await one.take('a')).effect).toBe('allow');
    expect((await two.take('a')).effect).toBe('deny');
    expect((await one.take('b')).effect).toBe('allow');
    expect((await new CallRateQuota(1, engine, 'git').take('a')).effect).toBe('allow');
  });

  it('refuses when the store cannot answer', async () => {
    const { engine, store } = await engineAt();
    await store.close();
    stores.length = 0;
    const refused = await new CallRateQuota(5, engine, 'files').take('a');
    expect(refused.effect).toBe('deny');
    expect(refused.reason).toMatch(/could not be checked in the store.*refused/);
  });
});
