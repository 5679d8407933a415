import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { hashLeaf } from '../../src/log/hash.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';

const origin = 'oacp.example/live-damage';
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A record as another writer would append it: length, leaf hash, entry. */
function record(entry: Uint8Array, leaf: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(entry.length);
  return Buffer.concat([header, leaf, entry]);
}

/**
 * A writer catches up on records other live writers appended without re-hashing them (that
 * was the per-writer cost that grew with the number of writers); the publishing round checks
 * every new entry once against its leaf hash before bundling it. This is the attack on that:
 * a record appended "by another writer" whose bytes do not match its leaf hash.
 */
describe('a damaged record appended by another live writer', () => {
  it('is never published: the round stops the log with LOG_CORRUPT and nothing is deleted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-live-damage-'));
    dirs.push(dir);
    const signer = keySigner(generateEd25519().privateKey);
    const log = await TransparencyLog.open(dir, { origin, signer });
    await log.append(new TextEncoder().encode('first'));
    await log.sync();
    // The positive control: the published checkpoint covers the good entry.
    const before = openCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), log.verifierKey);
    expect(before.ok && before.value.checkpoint.size).toBe(1);

    const good = new TextEncoder().encode('appended by another writer');
    const bad = Uint8Array.from(good);
    bad[3] = (bad[3] ?? 0) ^ 0x01;
    appendFileSync(join(dir, 'log.wal'), record(bad, hashLeaf(good)));
    const walBytes = readFileSync(join(dir, 'log.wal'));

    // This writer appends after it (its catch-up skips checksums), then publishing refuses.
    await log.append(new TextEncoder().encode('third'));
    await expect(log.sync()).rejects.toMatchObject({ code: 'LOG_CORRUPT', message: /record 1/ });
    const after = openCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), log.verifierKey);
    expect(after.ok && after.value.checkpoint.size).toBe(1);
    await expect(log.append(new TextEncoder().encode('fourth'))).rejects.toMatchObject({
      code: 'LOG_FAILED',
    });
    await log.close().catch(() => undefined);

    // Reopening names the record and changes nothing: every byte is still there.
    const grown = readFileSync(join(dir, 'log.wal'));
    expect(grown.subarray(0, walBytes.length).equals(walBytes)).toBe(true);
    await expect(TransparencyLog.open(dir, { origin, signer })).rejects.toMatchObject({
      code: 'LOG_CORRUPT',
      message: /record 1 /,
    });
    expect(readFileSync(join(dir, 'log.wal')).equals(grown)).toBe(true);
  });

  it('a torn record a killed writer left while this one runs is cut at its next append and told to onTornTail; a listener that throws does not fail the append', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-live-torn-'));
    dirs.push(dir);
    const signer = keySigner(generateEd25519().privateKey);
    const told: unknown[] = [];
    const onTornTail = (cut: unknown) => {
      told.push(cut);
      throw new Error('a listener that fails');
    };
    const log = await TransparencyLog.open(dir, { origin, signer, onTornTail });
    try {
      await log.append(new TextEncoder().encode('first'));
      const torn = Buffer.from([0, 0, 0, 200, 0x6f, 0x61, 0x63, 0x70]);
      appendFileSync(join(dir, 'log.wal'), torn);
      expect((await log.append(new TextEncoder().encode('second'))).index).toBe(1);
      expect(told).toHaveLength(1);
      expect(told[0]).toMatchObject({
        truncatedBytes: torn.length,
        savedAs: expect.stringContaining('log.wal.torn-'),
      });
      expect(readFileSync((told[0] as { savedAs: string }).savedAs)).toEqual(torn);
      await log.sync();
      expect(log.size).toBe(2);
    } finally {
      await log.close();
    }
  });

  it('zeros after the last record are a torn tail for a live writer too, never empty records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-live-zeros-'));
    dirs.push(dir);
    const signer = keySigner(generateEd25519().privateKey);
    const log = await TransparencyLog.open(dir, { origin, signer });
    try {
      expect((await log.append(new TextEncoder().encode('first'))).index).toBe(0);
      // What a power cut leaves (here while the log is open): the file grew, its bytes are zeros.
      appendFileSync(join(dir, 'log.wal'), Buffer.alloc(100));
      expect((await log.append(new TextEncoder().encode('second'))).index).toBe(1);
      await log.sync();
      expect(log.size).toBe(2);
    } finally {
      await log.close();
    }
    const reopened = await TransparencyLog.open(dir, { origin, signer });
    try {
      expect(reopened.size).toBe(2);
      expect(new TextDecoder().decode(await reopened.entry(1))).toBe('second');
    } finally {
      await reopened.close();
    }
  });
});
