import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';

// Group commit is pipelined: a batch is written while the previous batch's fdatasync is in
// flight. What must never change: an append is acknowledged (durable) only after an fdatasync of
// log.wal that began once its record was written, and a failed fdatasync fails every append it
// or a later one was to cover.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const origin = 'oacp.example/receipts';
const bytes = (text: string) => new TextEncoder().encode(text);

type Event =
  | { kind: 'written' | 'acked' | 'refused'; entry: number }
  | { kind: 'sync-start' | 'sync-end' | 'sync-failed'; sync: number };

interface Handle {
  fd: number;
  datasync(): Promise<void>;
}

/**
 * Every fdatasync of a log.wal (any FileHandle whose fd names one) is held SLOW_MS before it runs,
 * and noted in `events` when it starts and ends; `fail` makes the numbered ones fail with EIO.
 */
async function watchSyncs(events: Event[], fail: (sync: number) => boolean = () => false) {
  const probe = await open(process.execPath, 'r');
  const prototype = Object.getPrototypeOf(probe) as Handle;
  await probe.close();
  const original = prototype.datasync;
  let syncs = 0;
  prototype.datasync = async function (this: Handle) {
    if (!readlinkSync(`/proc/self/fd/${this.fd}`).endsWith('/log.wal')) return original.call(this);
    const sync = syncs++;
    events.push({ kind: 'sync-start', sync });
    await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
    if (fail(sync)) {
      events.push({ kind: 'sync-failed', sync });
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    }
    await original.call(this);
    events.push({ kind: 'sync-end', sync });
  };
  return () => {
    prototype.datasync = original;
  };
}
const SLOW_MS = 25;

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

async function freshLog(): Promise<TransparencyLog> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-pipelined-'));
  dirs.push(dir);
  return TransparencyLog.open(dir, { origin, signer: keySigner(generateEd25519().privateKey) });
}

/**
 * Appends `count` entries as a chain: each is submitted the moment the one before it is written
 * to the OS (its fdatasync not yet begun or in flight), the way calls arrive under load.
 */
function chain(log: TransparencyLog, events: Event[], count: number): Promise<unknown> {
  const all: Array<Promise<unknown>> = [];
  const append = (entry: number): void => {
    all.push(
      log
        .append(bytes(`receipt ${entry}`), {
          written: () => {
            events.push({ kind: 'written', entry });
            if (entry + 1 < count) append(entry + 1);
          },
        })
        .then(
          () => events.push({ kind: 'acked', entry }),
          () => events.push({ kind: 'refused', entry }),
        ),
    );
  };
  append(0);
  return (async () => {
    // The chain grows as it runs: wait until it stops growing.
    for (let seen = 0; seen < all.length; ) {
      seen = all.length;
      await Promise.all(all);
    }
  })();
}

const at = (events: Event[], match: (event: Event) => boolean) => events.findIndex(match);

describe('TransparencyLog: pipelined group commit', () => {
  it('fault: appends written while an fdatasync is in flight are acknowledged only after a later fdatasync that began after their write', async () => {
    const log = await freshLog();
    const events: Event[] = [];
    restore = await watchSyncs(events);
    await chain(log, events, 12);
    restore();
    restore = undefined;

    for (let entry = 0; entry < 12; entry += 1) {
      const written = at(events, (e) => e.kind === 'written' && e.entry === entry);
      const acked = at(events, (e) => e.kind === 'acked' && e.entry === entry);
      expect(written, `entry ${entry} was written`).toBeGreaterThanOrEqual(0);
      expect(acked, `entry ${entry} was acknowledged`).toBeGreaterThan(written);
      // Some fdatasync began after the write and ended before the acknowledgement.
      const covering = events.filter(
        (e, i) =>
          e.kind === 'sync-start' &&
          i > written &&
          at(events, (end) => end.kind === 'sync-end' && end.sync === e.sync) < acked &&
          at(events, (end) => end.kind === 'sync-end' && end.sync === e.sync) > i,
      );
      expect(covering.length, `entry ${entry}: an fdatasync after its write, before its ack`).toBeGreaterThan(
        0,
      );
    }
    // The overlap itself: records were written while an fdatasync of the log was in flight.
    const overlapped = events.filter((e, i) => {
      if (e.kind !== 'written') return false;
      const before = events.slice(0, i);
      const started = before.filter((s) => s.kind === 'sync-start').length;
      const ended = before.filter((s) => s.kind === 'sync-end').length;
      return started > ended;
    });
    expect(overlapped.length).toBeGreaterThan(0);
    // The next fdatasync is shared: fewer of them than appends.
    expect(events.filter((e) => e.kind === 'sync-start').length).toBeLessThan(12);
    await log.sync();
    const note = await log.checkpoint();
    expect(note.split('\n')[1]).toBe('12');
    await log.close();
  });

  it('fault: an fdatasync that fails refuses the appends it covered and those written meanwhile, and every later one, even when the next fdatasync would succeed', async () => {
    const log = await freshLog();
    const events: Event[] = [];
    restore = await watchSyncs(events, (sync) => sync === 0);
    await chain(log, events, 4);
    const written = events.filter((e) => e.kind === 'written').length;
    const duringFailure = events.findIndex((e) => e.kind === 'sync-failed');
    // Some were written while the failing fdatasync was in flight; none is ever acknowledged.
    expect(events.slice(0, duringFailure).filter((e) => e.kind === 'written').length).toBeGreaterThan(1);
    expect(events.some((e) => e.kind === 'acked')).toBe(false);
    expect(events.filter((e) => e.kind === 'refused').length).toBeGreaterThanOrEqual(written);
    await expect(log.append(bytes('after'))).rejects.toMatchObject({ code: 'LOG_FAILED' });
    restore();
    restore = undefined;
    await log.close().catch(() => undefined);
  });
});
