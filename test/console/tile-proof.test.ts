import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildStatement, envelopeBytes, signReceipt } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { checkPublishedInclusion, inclusionProofFromTiles } from '../../src/console/verify/index.js';
import { sha256Hex } from '../../src/core/digest.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../src/log/note-keys.js';
import { parseTlogProof } from '../../src/log/tlog-proof.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { newSigner, toolCallPredicate } from '../attest/fixtures.js';

const logSigner = newSigner();
const airlock = newSigner();
const ORIGIN = 'test.oacp/tiles';
const logKey = formatVerifierKey(ORIGIN, SIG_TYPE_ED25519, logSigner.publicKey);

describe('inclusion proofs built in the browser from the public tiles', () => {
  it("equal the log's own proofs for every shape of index, and fail for a tampered tile or receipt", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-console-tiles-'));
    const log = await TransparencyLog.open(dir, { origin: ORIGIN, signer: logSigner });
    const receipts: Buffer[] = [];
    // 600 entries: two full level-0 tiles and a partial one, and a partial level-1 tile.
    for (let i = 0; i < 600; i += 100) {
      const batch = Array.from({ length: 100 }, (_, n) =>
        envelopeBytes(
          signReceipt(
            buildStatement({
              predicateType: TOOL_CALL_PREDICATE_TYPE,
              predicate: { ...toolCallPredicate(undefined), argumentsDigest: sha256Hex(`call ${i + n}`) },
            }),
            { airlock },
          ),
        ),
      );
      receipts.push(...batch);
      await Promise.all(batch.map((bytes) => log.append(bytes)));
    }
    await log.sync();
    const checkpoint = readFileSync(join(dir, 'checkpoint'), 'utf8');
    const reads: string[] = [];
    const readTile = async (path: string) => {
      reads.push(path);
      return new Uint8Array(readFileSync(join(dir, path)));
    };
    for (const index of [0, 1, 255, 256, 300, 511, 512, 598, 599]) {
      const ours = await inclusionProofFromTiles(index, 600, readTile);
      const theirs = parseTlogProof(await log.proofFile(index)).proof;
      expect(
        ours.map((hash) => Buffer.from(hash).toString('hex')),
        `index ${index}`,
      ).toEqual(theirs.map((hash) => Buffer.from(hash).toString('hex')));
      const envelope = JSON.parse((receipts[index] as Buffer).toString('utf8'));
      const check = await checkPublishedInclusion({ envelope, index, checkpoint, logKey, readTile });
      expect(check, `index ${index}`).toMatchObject({
        ok: true,
        detail: expect.stringContaining('built here'),
      });
    }
    expect(reads.some((path) => path.startsWith('tile/1/'))).toBe(true);
    await log.close();

    const envelope = JSON.parse((receipts[300] as Buffer).toString('utf8'));
    // Another receipt at this index, a tile with one flipped byte, a checkpoint not signed by the log key.
    const other = JSON.parse((receipts[301] as Buffer).toString('utf8'));
    expect(
      (await checkPublishedInclusion({ envelope: other, index: 300, checkpoint, logKey, readTile })).ok,
    ).toBe(false);
    const flipped = async (path: string) => {
      const bytes = await readTile(path);
      if (path.startsWith('tile/0/001')) bytes[5] = (bytes[5] ?? 0) ^ 1;
      return bytes;
    };
    expect(
      (await checkPublishedInclusion({ envelope, index: 300, checkpoint, logKey, readTile: flipped })).ok,
    ).toBe(false);
    const stranger = formatVerifierKey(ORIGIN, SIG_TYPE_ED25519, newSigner().publicKey);
    const unsigned = await checkPublishedInclusion({
      envelope,
      index: 300,
      checkpoint,
      logKey: stranger,
      readTile,
    });
    expect(unsigned).toMatchObject({
      ok: false,
      detail: expect.stringContaining('not signed by the log key'),
    });
    const missing = await checkPublishedInclusion({
      envelope,
      index: 300,
      checkpoint,
      logKey,
      readTile: async () => {
        throw new Error('404');
      },
    });
    expect(missing.ok).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
