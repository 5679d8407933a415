import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { hashLeaf } from '../../src/log/hash.js';
import { verifyConsistency, verifyInclusion } from '../../src/log/proof-verify.js';
import { decodeBundle } from '../../src/log/tile-writer.js';
import { verifyTlogProof } from '../../src/log/tlog-proof-verify.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { filesUnder, rootFromTiles } from './tile-client.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const origin = 'oacp.example/receipts';
const signer = keySigner(generateEd25519().privateKey);
const bytes = (text: string) => new TextEncoder().encode(text);

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-tlog-'));
  dirs.push(dir);
  return dir;
}

function openLog(dir: string) {
  return TransparencyLog.open(dir, { origin, signer });
}

describe('TransparencyLog', () => {
  it('publishes a signed checkpoint for the empty tree on creation', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    const text = readFileSync(join(dir, 'checkpoint'), 'utf8');
    const opened = openCheckpoint(text, log.verifierKey);
    expect(opened.ok && opened.value.checkpoint.size).toBe(0);
    expect(text.split('\n').slice(0, 3)).toEqual([
      origin,
      '0',
      '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
    ]);
    await log.close();
  });

  it('numbers concurrent appends in order and commits them in shared batches', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => log.append(bytes(`receipt ${i}`))),
    );
    expect(results.map((r) => r.index)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(log.size).toBe(500);
    expect(log.commitCount).toBeLessThan(500);
    expect(new TextDecoder().decode(await log.entry(321))).toBe('receipt 321');
    await log.close();
  });

  it('serves proofs that verify against its signed checkpoints', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    for (let i = 0; i < 40; i += 1) await log.append(bytes(`receipt ${i}`));
    const old = openCheckpoint(await log.checkpoint(), log.verifierKey);
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(bytes(`later ${i}`))));
    const now = openCheckpoint(await log.checkpoint(), log.verifierKey);
    if (!old.ok || !now.ok) throw new Error('checkpoints must verify');
    const leaf = hashLeaf(bytes('receipt 7'));
    expect(verifyInclusion(7, 340, leaf, log.inclusionProof(7), now.value.checkpoint.root).ok).toBe(true);
    expect(verifyInclusion(7, 40, leaf, log.inclusionProof(7, 40), old.value.checkpoint.root).ok).toBe(true);
    const proof = log.consistencyProof(40, 340);
    expect(verifyConsistency(40, 340, proof, old.value.checkpoint.root, now.value.checkpoint.root).ok).toBe(
      true,
    );

    const file = await log.proofFile(7);
    const verdict = verifyTlogProof(file, { entry: bytes('receipt 7'), logKey: log.verifierKey });
    expect(verdict.ok).toBe(true);
    const wrong = verifyTlogProof(file, { entry: bytes('receipt 8'), logKey: log.verifierKey });
    expect(wrong.ok || wrong.code).toBe('LOG_INCLUSION_FAILED');
    expect(await log.checkpoint()).toBe(await log.checkpoint());
    await log.close();
  });

  it('leaves a directory a tlog-tiles client can check: checkpoint, tiles and bundles agree', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    await Promise.all(Array.from({ length: 700 }, (_, i) => log.append(bytes(`receipt ${i}`))));
    await log.sync();
    const opened = openCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), log.verifierKey);
    if (!opened.ok) throw new Error(opened.reason);
    expect(opened.value.checkpoint.size).toBe(700);
    expect(rootFromTiles(dir, 700)).toEqual(opened.value.checkpoint.root);
    const bundle = decodeBundle(new Uint8Array(readFileSync(join(dir, 'tile/entries/002.p/188'))));
    expect(new TextDecoder().decode(bundle[0])).toBe('receipt 512');
    const served = filesUnder(dir).map((path) => relative(dir, path));
    expect(served.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await log.close();
  });

  it('keeps everything across close and reopen', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(bytes(`receipt ${i}`))));
    const checkpoint = await log.checkpoint();
    await log.close();
    const reopened = await openLog(dir);
    expect(reopened.size).toBe(50);
    expect(await reopened.checkpoint()).toBe(checkpoint);
    expect(reopened.recovery.truncatedBytes).toBe(0);
    expect((await reopened.append(bytes('next'))).index).toBe(50);
    await reopened.close();
  });

  it('recovers from a torn tail and rebuilds served files that fell behind the write-ahead log', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    for (let i = 0; i < 10; i += 1) await log.append(bytes(`receipt ${i}`));
    await log.sync();
    const atTen = readFileSync(join(dir, 'checkpoint'), 'utf8');
    await Promise.all(Array.from({ length: 290 }, (_, i) => log.append(bytes(`more ${i}`))));
    await log.close();
    // A crash after the write-ahead file but before the served files: put back the old
    // checkpoint, and leave half a record at the end.
    writeFileSync(join(dir, 'checkpoint'), atTen);
    appendFileSync(join(dir, 'log.wal'), Buffer.from([0, 0, 1]));
    const reopened = await openLog(dir);
    expect(reopened.recovery.truncatedBytes).toBe(3);
    expect(reopened.size).toBe(300);
    const opened = openCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), reopened.verifierKey);
    expect(opened.ok && opened.value.checkpoint.size).toBe(300);
    expect(rootFromTiles(dir, 300)).toEqual(reopened.root());
    await reopened.close();
  });

  it('refuses to open when a record is damaged, naming it, and leaves the file as it was', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    for (let i = 0; i < 5; i += 1) await log.append(bytes(`receipt ${i}`));
    await log.close();
    const wal = readFileSync(join(dir, 'log.wal'));
    wal.writeUInt8((wal.at(-1) ?? 0) ^ 1, wal.length - 1);
    writeFileSync(join(dir, 'log.wal'), wal);
    await expect(openLog(dir)).rejects.toMatchObject({
      code: 'LOG_CORRUPT',
      message: /record 4 .*damaged/,
    });
    expect(readFileSync(join(dir, 'log.wal'))).toEqual(wal);
  });

  it('lets two opens of one directory append, each catching up on the other', async () => {
    const dir = freshDir();
    const first = await openLog(dir);
    const second = await openLog(dir);
    expect((await first.append(bytes('a'))).index).toBe(0);
    expect((await second.append(bytes('b'))).index).toBe(1);
    expect((await first.append(bytes('c'))).index).toBe(2);
    expect(new TextDecoder().decode(await first.entry(1))).toBe('b');
    await first.close();
    await second.close();
    const reader = await TransparencyLog.open(dir, { origin, signer, readOnly: true });
    expect(reader.size).toBe(3);
    await expect(reader.append(bytes('d'))).rejects.toMatchObject({ code: 'LOG_CLOSED' });
    await reader.close();
  });

  it('refuses another key and another origin', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    await log.append(bytes('x'));
    await log.close();
    const otherKey = keySigner(generateEd25519().privateKey);
    await expect(TransparencyLog.open(dir, { origin, signer: otherKey })).rejects.toMatchObject({
      code: 'LOG_CORRUPT',
      message: /does not verify/,
    });
    await expect(TransparencyLog.open(dir, { origin: 'oacp.example/other', signer })).rejects.toMatchObject({
      code: 'LOG_CORRUPT',
      message: /origin/,
    });
    await expect(TransparencyLog.open(dir, { origin: 'has space', signer })).rejects.toMatchObject({
      code: 'LOG_MALFORMED_CHECKPOINT',
    });
  });

  it('refuses oversized entries, bad indices and appends after close', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    await expect(log.append(new Uint8Array(65536))).rejects.toMatchObject({ code: 'LOG_ENTRY_TOO_LARGE' });
    expect((await log.append(new Uint8Array(65535))).index).toBe(0);
    await expect(log.append('text' as unknown as Uint8Array)).rejects.toMatchObject({
      code: 'LOG_OUT_OF_RANGE',
    });
    await expect(log.entry(1)).rejects.toMatchObject({ code: 'LOG_OUT_OF_RANGE' });
    expect(() => log.inclusionProof(1)).toThrow(expect.objectContaining({ code: 'LOG_OUT_OF_RANGE' }));
    await expect(log.proofFile(-1)).rejects.toThrow(expect.objectContaining({ code: 'LOG_OUT_OF_RANGE' }));
    await log.close();
    await expect(log.append(bytes('late'))).rejects.toMatchObject({ code: 'LOG_CLOSED' });
  });

  it('copies the entry on append, so a caller changing its buffer later changes nothing', async () => {
    const dir = freshDir();
    const log = await openLog(dir);
    const buffer = bytes('original');
    const pending = log.append(buffer);
    buffer.fill(0);
    const { index } = await pending;
    expect(new TextDecoder().decode(await log.entry(index))).toBe('original');
    await log.close();
  });
});
