import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, type Signer } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';

// A signed checkpoint must never cover a record a power cut could take back: the tree on disk
// would then be smaller than a signed one, a fork of the log's own making. Every signature over
// the tree is watched here: at the moment it is made, its size must be durable.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const origin = 'oacp.example/receipts';
const bytes = (text: string) => new TextEncoder().encode(text);

interface Signing {
  readonly size: number;
  readonly durable: number;
}

/** A log whose signer notes, for each checkpoint it signs, the size and the durable size then. */
async function watchedLog(): Promise<{ log: TransparencyLog; signings: Signing[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-durable-sign-'));
  dirs.push(dir);
  const inner = keySigner(generateEd25519().privateKey);
  const signings: Signing[] = [];
  const holder: { log?: TransparencyLog } = {};
  const signer: Signer = {
    publicKey: inner.publicKey,
    sign(message: Uint8Array) {
      const size = Number(new TextDecoder().decode(message).split('\n')[1]);
      signings.push({ size, durable: holder.log?.durableSize ?? 0 });
      return inner.sign(message);
    },
  };
  holder.log = await TransparencyLog.open(dir, { origin, signer });
  return { log: holder.log, signings };
}

describe('a checkpoint is signed only for records on stable storage', () => {
  it('checkpoint() asked right after written-acknowledged appends syncs first, then signs all of them', async () => {
    const { log, signings } = await watchedLog();
    const acks = await Promise.all(
      Array.from({ length: 64 }, (_, i) => log.append(bytes(`receipt ${i}`), { ack: 'written' })),
    );
    expect(acks.map((a) => a.index)).toEqual(Array.from({ length: 64 }, (_, i) => i));
    const note = await log.checkpoint();
    expect(note.split('\n')[1]).toBe(String(log.size));
    expect(signings.length).toBeGreaterThan(0);
    for (const signing of signings) expect(signing.size).toBeLessThanOrEqual(signing.durable);
    await log.close();
    for (const signing of signings) expect(signing.size).toBeLessThanOrEqual(signing.durable);
  });

  it('a proof file for an entry acknowledged as written is made against a durable checkpoint', async () => {
    const { log, signings } = await watchedLog();
    const { index } = await log.append(bytes('only written'), { ack: 'written' });
    const proof = await log.proofFile(index);
    expect(proof).toContain(`\n${index + 1}\n`);
    for (const signing of signings) expect(signing.size).toBeLessThanOrEqual(signing.durable);
    await log.close();
  });

  it('the publishing rounds under a stream of written-acknowledged appends sign only durable sizes', async () => {
    const { log, signings } = await watchedLog();
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 16 }, (_, i) => log.append(bytes(`r${round}-${i}`), { ack: 'written' })),
      );
      if (round % 5 === 4) await log.checkpoint();
    }
    await log.sync();
    await log.close();
    expect(signings.length).toBeGreaterThan(1);
    for (const signing of signings) expect(signing.size).toBeLessThanOrEqual(signing.durable);
  });
});
