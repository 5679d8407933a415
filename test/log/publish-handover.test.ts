import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { FileLock } from '../../src/log/file-lock.js';
import { PUBLISH_LOCK_FILE, TransparencyLog } from '../../src/log/transparency-log.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const origin = 'oacp.example/handover';
const signer = keySigner(generateEd25519().privateKey);

function publishedSize(dir: string, vkey: string): number {
  const opened = openCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), vkey);
  if (!opened.ok) throw new Error(opened.reason);
  return opened.value.checkpoint.size;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('publishing rounds when another process holds the publishing lock', () => {
  it('leaves them to the holder while it holds the lock, then publishes its own records itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-handover-'));
    dirs.push(dir);
    const log = await TransparencyLog.open(dir, { origin, signer });
    // Another "process" (its own open file description, so flock conflicts) publishes and stalls.
    const other = await FileLock.open(join(dir, PUBLISH_LOCK_FILE));
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holding = other.with(async () => {
      locked();
      await held;
    });
    await taken;
    const appended = await Promise.all([1, 2, 3].map((i) => log.append(new TextEncoder().encode(`r${i}`))));
    expect(appended.map((a) => a.index)).toEqual([0, 1, 2]);
    // Acknowledged (durable) without waiting for the publishing lock; nothing published past it.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(publishedSize(dir, log.verifierKey)).toBe(0);
    // The holder goes away without covering these records: the writer publishes them itself,
    // without anyone calling sync().
    release();
    await holding;
    await until(() => publishedSize(dir, log.verifierKey) === 3, 'the checkpoint to cover 3 entries');
    await log.close();
    await other.close();
  });
});
