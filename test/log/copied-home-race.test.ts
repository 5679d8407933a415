import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner, type Signer } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';

// Attack: a home copied (cp -a) while its writer was running, both copies then append on one
// machine. They share the signed-size state (it lives outside the home), but each copy has
// its own publishing lock: two rounds that read the state at once both passed its check and
// both signed a tree of the same size with another root, a fork made by this machine's key.
// The state file's own lock makes read, check, sign and write one step for every copy.

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const origin = 'oacp.example/receipts';
const bytes = (text: string) => new TextEncoder().encode(text);

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A signer that notes the root of every checkpoint it signs, by size. */
function watchingSigner(inner: Signer, signed: Map<number, Set<string>>): Signer {
  return {
    publicKey: inner.publicKey,
    sign(message: Uint8Array) {
      const [, size, root] = new TextDecoder().decode(message).split('\n');
      const roots = signed.get(Number(size)) ?? new Set<string>();
      roots.add(root ?? '');
      signed.set(Number(size), roots);
      return inner.sign(message);
    },
  };
}

describe('two copies of one home on one machine', () => {
  it('never both sign a tree of one size: publishing rounds racing on the shared signed-size state', async () => {
    const inner = keySigner(generateEd25519().privateKey);
    const stateFile = join(tempDir('oacp-race-state-'), 'state.json');
    const first = tempDir('oacp-race-a-');
    const seed = await TransparencyLog.open(first, { origin, signer: inner, stateFile });
    for (let i = 0; i < 5; i++) await seed.append(bytes(`shared ${i}`));
    await seed.sync();
    await seed.close();
    const second = tempDir('oacp-race-b-');
    cpSync(first, second, { recursive: true });

    const signed = new Map<number, Set<string>>();
    const signer = watchingSigner(inner, signed);
    const a = await TransparencyLog.open(first, { origin, signer, stateFile });
    const b = await TransparencyLog.open(second, { origin, signer, stateFile });
    const outcomes: PromiseSettledResult<unknown>[] = [];
    for (let round = 0; round < 20 && !outcomes.some((o) => o.status === 'rejected'); round++) {
      outcomes.push(
        ...(await Promise.allSettled([a.append(bytes(`a ${round}`)), b.append(bytes(`b ${round}`))])),
      );
      outcomes.push(...(await Promise.allSettled([a.sync(), b.sync()])));
    }
    await Promise.allSettled([a.close(), b.close()]);

    for (const [size, roots] of signed) expect({ size, roots: roots.size }).toEqual({ size, roots: 1 });
    // The copy that lost the race is told: LOG_FORK, a refusal to go on.
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const outcome of refused)
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'LOG_FORK' });
  });

  it('never both hand out a checkpoint or proof of one size signed outside a publishing round', async () => {
    const inner = keySigner(generateEd25519().privateKey);
    const stateFile = join(tempDir('oacp-race-state-'), 'state.json');
    const first = tempDir('oacp-race-a-');
    const seed = await TransparencyLog.open(first, { origin, signer: inner, stateFile });
    await seed.append(bytes('shared'));
    await seed.close();
    const second = tempDir('oacp-race-b-');
    cpSync(first, second, { recursive: true });

    const signed = new Map<number, Set<string>>();
    const signer = watchingSigner(inner, signed);
    const a = await TransparencyLog.open(first, { origin, signer, stateFile });
    const b = await TransparencyLog.open(second, { origin, signer, stateFile });
    // Written-acknowledged appends, then checkpoint() and proofFile() before any round ran.
    await Promise.all([a.append(bytes('a'), { ack: 'written' }), b.append(bytes('b'), { ack: 'written' })]);
    const asked = await Promise.allSettled([a.checkpoint(), b.proofFile(1)]);
    await Promise.allSettled([a.close(), b.close()]);

    for (const [size, roots] of signed) expect({ size, roots: roots.size }).toEqual({ size, roots: 1 });
    const refused = asked.filter((o) => o.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'LOG_FORK' });
  });

  it('a read-only command signing on a copy records what it signed: the other copy then refuses that size', async () => {
    const inner = keySigner(generateEd25519().privateKey);
    const stateFile = join(tempDir('oacp-race-state-'), 'state.json');
    const first = tempDir('oacp-race-a-');
    const seed = await TransparencyLog.open(first, { origin, signer: inner, stateFile });
    await seed.append(bytes('shared'));
    await seed.close();
    const second = tempDir('oacp-race-b-');
    cpSync(first, second, { recursive: true });
    // The copy holds a record no round published yet (its writer was killed right after the
    // write): a record as the write-ahead log frames it, length || SHA-256(0x00 || entry) || entry.
    const entry = bytes('b');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(entry.length);
    const leaf = createHash('sha256')
      .update(Buffer.from([0]))
      .update(entry)
      .digest();
    appendFileSync(join(second, 'log.wal'), Buffer.concat([length, leaf, entry]));

    const signed = new Map<number, Set<string>>();
    const signer = watchingSigner(inner, signed);
    // `oacp log checkpoint` on the copy: read-only, no lock in the home, but it signs size 2.
    const reader = await TransparencyLog.open(second, { origin, signer, stateFile, readOnly: true });
    expect((await reader.checkpoint()).split('\n')[1]).toBe('2');
    await reader.close();
    // The other copy, behind it, cannot open: this machine has signed a tree it does not hold.
    await expect(TransparencyLog.open(first, { origin, signer, stateFile })).rejects.toMatchObject({
      code: 'LOG_FORK',
    });
    for (const [size, roots] of signed) expect({ size, roots: roots.size }).toEqual({ size, roots: 1 });
  });
});
