import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newSigner, toolCallPredicate } from '../../test/attest/fixtures.js';
import { addSignature } from '../attest/dsse.js';
import { buildStatement, envelopeBytes, signReceipt } from '../attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../attest/tool-call.js';
import { sha256Hex } from '../core/digest.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../log/note-keys.js';
import { TransparencyLog } from '../log/transparency-log.js';
import { OfflineVerifier, type ReceiptAndProof, verifyOffline } from './offline-verifier.js';

const airlock = newSigner();
const rotatedOut = newSigner();
const agent = newSigner();
const stranger = newSigner();
const logSigner = newSigner();
const ORIGIN = 'test.oacp/offline';
const logKey = formatVerifierKey(ORIGIN, SIG_TYPE_ED25519, logSigner.publicKey);

function receiptBytes(i: number, signers: Parameters<typeof signReceipt>[1], named = agent): Buffer {
  const statement = buildStatement({
    predicateType: TOOL_CALL_PREDICATE_TYPE,
    predicate: { ...toolCallPredicate(named), argumentsDigest: sha256Hex(`call ${i}`) },
  });
  return envelopeBytes(signReceipt(statement, signers));
}

/** A log of `count` receipts (varied signers) and each one's proof against the final checkpoint. */
async function loggedReceipts(count: number): Promise<ReceiptAndProof[]> {
  const log = await TransparencyLog.open(mkdtempSync(join(tmpdir(), 'oacp-offline-')), {
    origin: ORIGIN,
    signer: logSigner,
  });
  const indexes: Array<{ receipt: string; index: number }> = [];
  for (let i = 0; i < count; i++) {
    const bytes =
      i % 3 === 0
        ? receiptBytes(i, { airlock, agent })
        : i % 3 === 1
          ? receiptBytes(i, { airlock })
          : envelopeBytes(addSignature(JSON.parse(receiptBytes(i, { airlock }).toString()), stranger));
    indexes.push({ receipt: bytes.toString('utf8'), index: (await log.append(bytes)).index });
  }
  const items = await Promise.all(
    indexes.map(async ({ receipt, index }) => ({ receipt, proof: await log.proofFile(index) })),
  );
  await log.close();
  return items;
}

describe('OfflineVerifier.verifyMany', () => {
  it('gives, item for item, what verify and verifyOffline give, over a mixed batch', async () => {
    const logged = await loggedReceipts(150);
    const first = logged[0] as ReceiptAndProof;
    const second = logged[1] as ReceiptAndProof;
    const items: ReceiptAndProof[] = [
      ...logged,
      { receipt: second.receipt, ...(first.proof === undefined ? {} : { proof: first.proof }) },
      {
        receipt: JSON.stringify(JSON.parse(first.receipt), null, 2),
        ...(first.proof === undefined ? {} : { proof: first.proof }),
      },
      { receipt: '{"payload":', ...(first.proof === undefined ? {} : { proof: first.proof }) },
      { receipt: first.receipt },
      { receipt: first.receipt, proof: 'not a proof' },
      { receipt: '{"payload":"AA==","payloadType":"x","signatures":[]}' },
    ];
    for (const keys of [
      { logKey, airlockKeys: [airlock.publicKey] },
      // Rotation: most signatures fail under the first key, so a second round of checks runs.
      { logKey, airlockKeys: [rotatedOut.publicKey, airlock.publicKey] },
      { logKey, airlockKeys: [stranger.publicKey], expectedAgentDid: 'did:key:z6Mknobody' },
      { airlockKeys: [airlock.publicKey] },
    ]) {
      const many = await new OfflineVerifier(keys).verifyMany(items);
      const one = new OfflineVerifier(keys);
      expect(many).toEqual(items.map((item) => one.verify(item.receipt, item.proof)));
      expect(many).toEqual(items.map((item) => verifyOffline({ ...keys, ...item })));
    }
    const results = await new OfflineVerifier({ logKey, airlockKeys: [airlock.publicKey] }).verifyMany(items);
    expect(results.slice(0, 150).map((result) => result.ok)).toEqual(logged.map((_, i) => i % 3 !== 2));
    expect(results.slice(150).map((result) => result.ok)).toEqual([false, true, false, false, false, false]);
    expect(results[0]?.trustLevel).toBe('Standard');
    expect(results[0]?.logIndex).toBe(0);
  });

  it('keeps order and results over a batch larger than the chunks it keeps in flight', async () => {
    const logged = await loggedReceipts(40);
    const items = Array.from({ length: 1_100 }, (_, i) => logged[(i * 7) % logged.length] as ReceiptAndProof);
    const keys = { logKey, airlockKeys: [rotatedOut.publicKey, airlock.publicKey] };
    const one = new OfflineVerifier(keys);
    expect(await new OfflineVerifier(keys).verifyMany(items)).toEqual(
      items.map((item) => one.verify(item.receipt, item.proof)),
    );
  });

  it('returns nothing for no receipts', async () => {
    expect(await new OfflineVerifier({ airlockKeys: [airlock.publicKey] }).verifyMany([])).toEqual([]);
  });
});
