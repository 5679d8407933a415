import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../test/scratch-dirs.js';
import {
  InMemoryNonceStore,
  NONCE_PRUNE_GRACE_MS,
  type NonceStore,
  type NonceStoreOptions,
} from './nonce-store.js';
import { SqliteNonceStore } from './sqlite-nonce-store.js';

const makers: Array<[string, (options: NonceStoreOptions) => NonceStore & { readonly size: number }]> = [
  ['InMemoryNonceStore', (options) => new InMemoryNonceStore(options)],
  [
    'SqliteNonceStore',
    (options) => new SqliteNonceStore(join(scratchDir('oacp-nonce-'), 'nonces.db'), options),
  ],
];

describe.each(makers)('%s', (_name, make) => {
  it('accepts a nonce once and refuses it while it is live', () => {
    let now = 1_000;
    const store = make({ now: () => now });
    expect(store.checkAndRemember('n1', 2_000)).toBe(true);
    expect(store.checkAndRemember('n1', 2_000)).toBe(false);
    now = 1_999;
    expect(store.checkAndRemember('n1', 3_000)).toBe(false);
    expect(store.checkAndRemember('n2', 2_000)).toBe(true);
  });

  it('forgets a nonce once it has expired', () => {
    let now = 1_000;
    const store = make({ now: () => now, pruneIntervalMs: 1_000_000 });
    expect(store.checkAndRemember('n1', 2_000)).toBe(true);
    now = 2_000;
    expect(store.checkAndRemember('n1', 3_000)).toBe(true);
    expect(store.checkAndRemember('n1', 3_000)).toBe(false);
  });

  it('prunes expired entries', () => {
    let now = 0;
    const store = make({ now: () => now, pruneIntervalMs: 100 });
    for (let i = 0; i < 10; i++) store.checkAndRemember(`old-${i}`, 50);
    store.checkAndRemember('live', 2 * NONCE_PRUNE_GRACE_MS);
    expect(store.size).toBe(11);
    // Past the grace a shared store keeps expired rows for (a process-local one needs none).
    now = 50 + NONCE_PRUNE_GRACE_MS;
    store.checkAndRemember('new', now + 10_000);
    expect(store.size).toBe(2);
  });
});

describe('SqliteNonceStore persistence', () => {
  it('remembers nonces across close and reopen', () => {
    const path = join(scratchDir('oacp-nonce-'), 'nonces.db');
    const first = new SqliteNonceStore(path, { now: () => 1_000 });
    expect(first.checkAndRemember('n1', 5_000)).toBe(true);
    first.close();
    const second = new SqliteNonceStore(path, { now: () => 1_500 });
    expect(second.checkAndRemember('n1', 5_000)).toBe(false);
    second.close();
  });

  it('fsyncs every remembered nonce (synchronous = FULL), so a power cut cannot reopen the replay window', () => {
    const store = new SqliteNonceStore(join(scratchDir('oacp-nonce-'), 'nonces.db'));
    expect(store.synchronous).toBe(2);
    store.close();
  });

  it('a store whose clock runs ahead (by less than the grace) sweeps no nonce another store on the file holds live', () => {
    const path = join(scratchDir('oacp-nonce-'), 'nonces.db');
    const right = new SqliteNonceStore(path, { now: () => 1_000 });
    const ahead = new SqliteNonceStore(path, { now: () => 1_000 + NONCE_PRUNE_GRACE_MS - 1 });
    expect(right.checkAndRemember('live', 5_000)).toBe(true);
    expect(ahead.checkAndRemember('other', NONCE_PRUNE_GRACE_MS + 10_000)).toBe(true);
    expect(right.checkAndRemember('live', 5_000)).toBe(false);
    right.close();
    ahead.close();
  });

  it('refuses the second of two stores on one file claiming the same nonce', () => {
    const path = join(scratchDir('oacp-nonce-'), 'nonces.db');
    const a = new SqliteNonceStore(path, { now: () => 1_000 });
    const b = new SqliteNonceStore(path, { now: () => 1_000 });
    expect(a.checkAndRemember('shared', 5_000)).toBe(true);
    expect(b.checkAndRemember('shared', 5_000)).toBe(false);
    a.close();
    b.close();
  });
});
