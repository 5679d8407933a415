import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BIN,
  bridgeRefusal,
  type HomeBridge,
  bridgeHome as newHome,
  signedToolCall,
  spawnBridge,
} from './home-bridge.js';
import { INITIALIZE } from './raw-harness.js';

const AHEAD_MS = 10 * 60_000;

/** A signed echo call (a new key each time); the same request can be sent under several JSON-RPC ids. */
const call = (text: string, signedAt?: () => number) => signedToolCall('echo', { text }, signedAt);

/**
 * Every process on a home spends nonces in `<home>/nonces.db`, and each one
 * sweeps expired rows by its own clock. A process whose clock runs ahead
 * (a host clock stepped forward and back, a process under faketime) must
 * not sweep nonces the others still hold live, or a captured request is
 * accepted again by every process with the right time.
 */
describe('durable nonces on the home under faults: a clock running ahead, the file removed or damaged', () => {
  const bridges: HomeBridge[] = [];
  afterEach(async () => {
    for (const bridge of bridges.splice(0)) await bridge.close();
  });

  const bridge = (home: string, preload?: string) => {
    const started = spawnBridge(home, preload === undefined ? {} : { preload });
    bridges.push(started);
    return started.request;
  };

  it.skipIf(!existsSync(BIN))(
    'attack: a bridge 10 minutes ahead sweeping the home store does not let a captured request through again',
    async () => {
      const home = await newHome();
      const fastClock = join(home, 'clock-ahead.mjs');
      writeFileSync(fastClock, `const now = Date.now; Date.now = () => now() + ${AHEAD_MS};\n`);

      // A request goes through a bridge with the right time; an attacker keeps a copy.
      const right = bridge(home);
      await right(INITIALIZE);
      const captured = call('pay 100');
      expect(await right(captured(1))).toContain('pay 100');
      expect(await right(captured(2))).toContain('replayed nonce');

      // A bridge on the same home whose clock runs 10 minutes ahead serves a request of its own
      // time: spending that nonce sweeps the rows it believes expired.
      const ahead = bridge(home, fastClock);
      await ahead(INITIALIZE);
      expect(await ahead(call('from the future', () => Date.now() + AHEAD_MS)(3))).toContain(
        'from the future',
      );

      // The captured request, sent again to the bridge with the right time (and to a new one), is still a replay.
      const replayed = await right(captured(4));
      expect(replayed).toContain('replayed nonce');
      expect(replayed).not.toContain('pay 100');
      const fresh = bridge(home);
      await fresh(INITIALIZE);
      expect(await fresh(captured(5))).toContain('replayed nonce');
    },
    60_000,
  );
  it.skipIf(!existsSync(BIN))(
    'attack: nonces.db removed under a running bridge: it refuses signed calls, naming the file, rather than remember where no one else looks',
    async () => {
      const home = await newHome();
      const running = bridge(home);
      await running(INITIALIZE);
      expect(await running(call('before')(1))).toContain('before');
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(home, `nonces.db${suffix}`), { force: true });
      const gone = await running(call('while gone')(5));
      expect(gone).toContain(`${join(home, 'nonces.db')} was removed`);
      expect(gone).not.toContain('while gone');
      // A new bridge makes a fresh file; the running one would otherwise accept what the new one never sees.
      const fresh = bridge(home);
      await fresh(INITIALIZE);
      const shared = call('pay 100');
      expect(await fresh(shared(2))).toContain('pay 100');
      const refused = await running(shared(3));
      expect(refused).toContain('"isError":true');
      expect(refused).toContain(`${join(home, 'nonces.db')} was replaced`);
      expect(refused).not.toContain('pay 100');
      expect(await fresh(shared(4))).toContain('replayed nonce');
    },
    60_000,
  );

  it.skipIf(!existsSync(BIN))(
    'attack: a damaged nonces.db: the bridge does not start, and says which file in one line',
    async () => {
      const home = await newHome();
      writeFileSync(join(home, 'nonces.db'), Buffer.alloc(8192, 0x5a));
      const { code, stderr } = await bridgeRefusal(home, { flags: [] });
      expect(code).not.toBe(0);
      expect(stderr).toContain(`cannot open the nonce store at ${join(home, 'nonces.db')}`);
      expect(stderr).not.toMatch(/^\s+at /m);
    },
    60_000,
  );
});
