import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, type Signer } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';

// Attack: the `checkpoint` file replaced by an older, validly signed checkpoint of the same log
// (a rollback). The node must never sign a smaller tree because of it: it publishes the largest
// signed tree again, and if the entries after the old checkpoint are gone as well (a restored
// backup), it refuses to open.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const origin = 'oacp.example/receipts';
const entry = (i: number) => new TextEncoder().encode(`receipt ${String(i).padStart(4, '0')}`);

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A signer that notes the size of every checkpoint it signs. */
function sizeWatcher(inner: Signer, sizes: number[]): Signer {
  return {
    publicKey: inner.publicKey,
    sign(message: Uint8Array) {
      sizes.push(Number(new TextDecoder().decode(message).split('\n')[1]));
      return inner.sign(message);
    },
  };
}

const sizeOf = (note: string) => Number(note.split('\n')[1]);

/** A log of 10 entries with its checkpoint at 5 kept aside, the way an attacker would keep it. */
async function signedTwice() {
  const inner = keySigner(generateEd25519().privateKey);
  const dir = tempDir('oacp-rollback-');
  const stateFile = join(tempDir('oacp-rollback-state-'), 'state.json');
  const old = join(tempDir('oacp-rollback-old-'), 'checkpoint');
  const log = await TransparencyLog.open(dir, { origin, signer: inner, stateFile });
  for (let i = 0; i < 5; i++) await log.append(entry(i));
  await log.sync();
  copyFileSync(join(dir, 'checkpoint'), old);
  const walAtFive = statSync(join(dir, 'log.wal')).size;
  for (let i = 5; i < 10; i++) await log.append(entry(i));
  await log.sync();
  expect(sizeOf(readFileSync(join(dir, 'checkpoint'), 'utf8'))).toBe(10);
  await log.close();
  return { inner, dir, stateFile, old, walAtFive };
}

describe('a checkpoint file rolled back to an older signed one', () => {
  it('is not accepted: the node signs nothing smaller and publishes the largest tree again', async () => {
    const { inner, dir, stateFile, old } = await signedTwice();
    copyFileSync(old, join(dir, 'checkpoint'));
    const sizes: number[] = [];
    const log = await TransparencyLog.open(dir, { origin, signer: sizeWatcher(inner, sizes), stateFile });
    expect(sizeOf(await log.checkpoint())).toBe(10);
    expect(sizeOf(readFileSync(join(dir, 'checkpoint'), 'utf8'))).toBe(10);

    // The same, while the node runs: the next round publishes past it, never below 10.
    copyFileSync(old, join(dir, 'checkpoint'));
    await log.append(entry(10));
    await log.sync();
    expect(sizeOf(readFileSync(join(dir, 'checkpoint'), 'utf8'))).toBe(11);
    await log.close();
    expect(sizes.length).toBeGreaterThan(0);
    for (const size of sizes) expect(size).toBeGreaterThanOrEqual(10);
  });

  it('with the entries after it cut from the write-ahead log too (a restored backup), open refuses: LOG_FORK', async () => {
    const { inner, dir, stateFile, old, walAtFive } = await signedTwice();
    copyFileSync(old, join(dir, 'checkpoint'));
    truncateSync(join(dir, 'log.wal'), walAtFive);
    const sizes: number[] = [];
    await expect(
      TransparencyLog.open(dir, { origin, signer: sizeWatcher(inner, sizes), stateFile }),
    ).rejects.toMatchObject({ code: 'LOG_FORK' });
    expect(sizes).toEqual([]);
    expect(statSync(join(dir, 'log.wal')).size).toBe(walAtFive);
  });
});
