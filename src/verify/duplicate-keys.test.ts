import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newSigner, toolCallPredicate } from '../../test/attest/fixtures.js';
import { signEnvelope } from '../attest/dsse.js';
import { buildStatement, envelopeBytes, signReceipt } from '../attest/receipt.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../attest/statement.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../attest/tool-call.js';
import { sha256Hex } from '../core/digest.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../log/note-keys.js';
import { TransparencyLog } from '../log/transparency-log.js';
import { verifyOffline } from './offline-verifier.js';

const airlock = newSigner();
const agent = newSigner();
const logSigner = newSigner();
const ORIGIN = 'test.oacp/duplicate-keys';
const logKey = formatVerifierKey(ORIGIN, SIG_TYPE_ED25519, logSigner.publicKey);

function statementOf(call: string) {
  return buildStatement({
    predicateType: TOOL_CALL_PREDICATE_TYPE,
    predicate: { ...toolCallPredicate(agent), argumentsDigest: sha256Hex(call) },
  });
}

function failed(result: ReturnType<typeof verifyOffline>): string[] {
  return result.checks.filter((check) => !check.ok).map((check) => `${check.name}: ${check.detail}`);
}

describe('oacp verify refuses a receipt whose JSON repeats a member name', () => {
  it('attack: two logged receipts spliced into one envelope (each member twice) verify as neither', async () => {
    const log = await TransparencyLog.open(mkdtempSync(join(tmpdir(), 'oacp-dupkeys-')), {
      origin: ORIGIN,
      signer: logSigner,
    });
    const first = envelopeBytes(signReceipt(statementOf('read /etc/hosts'), { airlock })).toString('utf8');
    const second = envelopeBytes(signReceipt(statementOf('rm -rf /'), { airlock })).toString('utf8');
    await log.append(Buffer.from(first));
    const { index } = await log.append(Buffer.from(second));
    const proof = await log.proofFile(index);
    await log.close();
    // JSON.parse keeps the last of each pair (the second receipt, which its proof covers); a parser
    // that keeps the first reads the first receipt from the same file.
    const spliced = `${first.slice(0, -1)},${second.slice(1)}`;
    expect(JSON.parse(spliced)).toEqual(JSON.parse(second));
    expect(verifyOffline({ receipt: second, proof, logKey, airlockKeys: [airlock.publicKey] }).ok).toBe(true);

    const result = verifyOffline({ receipt: spliced, proof, logKey, airlockKeys: [airlock.publicKey] });
    expect(result.ok).toBe(false);
    expect(result.trustLevel).toBe('Untrusted');
    expect(failed(result)).toEqual([
      'receipt-json: the receipt repeats the member "payload" in one object (duplicate JSON keys read differently to different parsers)',
    ]);
  });

  it('attack: a signed payload that names its predicate type twice is not a statement', () => {
    const text = JSON.stringify(statementOf('x'));
    const payload = `{"predicateType":"https://example.invalid/other/v1",${text.slice(1)}`;
    const receipt = JSON.stringify(signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(payload), [airlock]));
    const result = verifyOffline({ receipt, airlockKeys: [airlock.publicKey] });
    expect(result.ok).toBe(false);
    expect(failed(result)).toContain(
      'statement: the payload repeats the member "predicateType" in one object (duplicate JSON keys read differently to different parsers)',
    );
  });

  it('attack: a signed payload that is not UTF-8 is refused, not read with U+FFFD in its place', () => {
    const text = JSON.stringify(statementOf('x'));
    const at = text.indexOf('"subject"');
    const payload = Buffer.concat([
      Buffer.from(`${text.slice(0, at)}"note":"`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`",${text.slice(at)}`),
    ]);
    const receipt = JSON.stringify(signEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, [airlock]));
    const result = verifyOffline({ receipt, airlockKeys: [airlock.publicKey] });
    expect(result.ok).toBe(false);
    expect(failed(result)).toContain('statement: payload is not UTF-8 JSON');
  });
});
