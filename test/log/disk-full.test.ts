import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { filesUnder } from './tile-client.js';

// A real full disk: a small tmpfs (root only), filled by the log itself, then by a ballast file
// while the log keeps appending. Whatever failed, no acknowledged entry may be lost, no index
// handed out twice, and the log must reopen once there is room again.

const root = process.getuid?.() === 0;
const origin = 'oacp.example/full';
const signer = keySigner(generateEd25519().privateKey);
const bytes = (text: string) => new TextEncoder().encode(text);
let mount = '';

beforeAll(() => {
  if (!root) return;
  mount = mkdtempSync(join(tmpdir(), 'oacp-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount]);
});
afterAll(() => {
  if (!root || mount === '') return;
  execFileSync('umount', [mount]);
  rmSync(mount, { recursive: true, force: true });
});

/** Appends until the log refuses; returns what was acknowledged and the first refusal. */
async function appendUntilFull(
  log: TransparencyLog,
  tag: string,
  ack: 'durable' | 'written',
): Promise<{ acked: Map<number, string>; refusal: unknown }> {
  const acked = new Map<number, string>();
  const entry = (i: number) => `${tag}-${i}-${'x'.repeat(100)}`;
  for (let i = 0; i < 100_000; i += 16) {
    const batch = Array.from({ length: 16 }, (_, k) => entry(i + k));
    const results = await Promise.allSettled(batch.map((text) => log.append(bytes(text), { ack })));
    let refusal: unknown;
    results.forEach((result, k) => {
      if (result.status === 'fulfilled') acked.set(result.value.index, batch[k] as string);
      else refusal ??= result.reason;
    });
    if (refusal !== undefined) return { acked, refusal };
  }
  throw new Error('the disk never filled');
}

async function expectAllThere(dir: string, acked: Map<number, string>): Promise<TransparencyLog> {
  const log = await TransparencyLog.open(dir, { origin, signer });
  for (const [index, text] of acked)
    expect(new TextDecoder().decode(await log.entry(index)), `entry ${index}`).toBe(text);
  const note = openCheckpoint(await log.checkpoint(), log.verifierKey);
  expect(note.ok && note.value.checkpoint.size).toBe(log.size);
  return log;
}

describe.skipIf(!root)('a full disk (real ENOSPC on a small tmpfs)', () => {
  for (const ack of ['durable', 'written'] as const) {
    it(`attack (${ack}): the log fills its disk; the failing append gets no index, later ones are refused, reopening on the full disk refuses with one clear line and cuts nothing, and with room again every acknowledged entry is there`, async () => {
      const dir = join(mount, `log-${ack}`);
      mkdirSync(dir);
      // Room to free later: the log then fills the rest.
      writeFileSync(join(mount, `ballast-${ack}`), Buffer.alloc(1536 * 1024));
      try {
        await fillAndRecover(dir, ack);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        rmSync(join(mount, `ballast-${ack}`), { force: true });
      }
    });
  }

  async function fillAndRecover(dir: string, ack: 'durable' | 'written'): Promise<void> {
    const log = await TransparencyLog.open(dir, { origin, signer });
    const { acked, refusal } = await appendUntilFull(log, ack, ack);
    expect(acked.size).toBeGreaterThan(0);
    expect((refusal as { code?: string }).code).toMatch(/^LOG_(FAILED|CORRUPT)$/);
    expect(String((refusal as Error).message)).not.toMatch(/\n\s+at /);
    // Every index handed out once, in order.
    expect([...acked.keys()].sort((a, b) => a - b)).toEqual([...acked.keys()].map((_, i) => i));
    // Once failed, the log refuses, and says so, rather than acknowledging what it cannot keep.
    await expect(log.append(bytes('after'))).rejects.toMatchObject({
      code: expect.stringMatching(/^LOG_/),
    });
    await log.close().catch(() => undefined);
    // Still full: opening may need to save a torn tail aside; it says so, and cuts nothing.
    const walBefore = readFileSync(join(dir, 'log.wal'));
    const stillFull = await TransparencyLog.open(dir, { origin, signer })
      .then((opened) => opened.close())
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    if (stillFull !== undefined) {
      expect((stillFull as { code?: string }).code, String(stillFull)).toBe('LOG_FAILED');
      expect((stillFull as Error).message).toMatch(/nothing was cut|the write-ahead log is unchanged/);
      expect((stillFull as Error).message).not.toContain('\n');
    }
    // At most a torn tail no acknowledgement covers was cut (checked below): the rest is as it was.
    const walAfter = readFileSync(join(dir, 'log.wal'));
    expect(walBefore.subarray(0, walAfter.length).equals(walAfter)).toBe(true);
    // Room again: everything acknowledged is there, the tree is signed at its full size.
    rmSync(join(mount, `ballast-${ack}`), { force: true });
    const reopened = await expectAllThere(dir, acked);
    // No partial temp file of a failed write was left to keep the disk full.
    expect(filesUnder(dir).filter((path) => path.endsWith('.tmp'))).toEqual([]);
    await reopened.append(bytes('room again'));
    await reopened.close();
  }

  it('attack: the disk fills during a publishing round (ballast written between appends); acknowledged entries survive, the log reopens', async () => {
    const dir = join(mount, 'log-round');
    mkdirSync(dir);
    try {
      await fullDuringRound(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(join(mount, 'ballast-round'), { force: true });
    }
  });

  async function fullDuringRound(dir: string): Promise<void> {
    const log = await TransparencyLog.open(dir, { origin, signer });
    const acked = new Map<number, string>();
    for (let i = 0; i < 40; i++) {
      const text = `before-${i}-${'y'.repeat(500)}`;
      acked.set((await log.append(bytes(text))).index, text);
    }
    // Leave only a few KiB: the next appends fit in the WAL, the tiles and checkpoint may not.
    const free = () => {
      const out = execFileSync('df', ['-B1', '--output=avail', mount], { encoding: 'utf8' });
      return Number(out.trim().split('\n')[1]);
    };
    writeFileSync(join(mount, 'ballast-round'), Buffer.alloc(Math.max(0, free() - 12 * 1024)));
    let failed: unknown;
    for (let i = 0; i < 40 && failed === undefined; i++) {
      const text = `during-${i}-${'z'.repeat(300)}`;
      try {
        acked.set((await log.append(bytes(text))).index, text);
        await log.sync();
      } catch (error) {
        failed = error;
      }
    }
    expect(failed).toBeDefined();
    await log.close().catch(() => undefined);
    unlinkSync(join(mount, 'ballast-round'));
    expect(statSync(join(dir, 'log.wal')).size).toBeGreaterThan(0);
    const reopened = await expectAllThere(dir, acked);
    await reopened.close();
  }
});
