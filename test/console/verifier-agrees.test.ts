import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addSignature, signEnvelope } from '../../src/attest/dsse.js';
import { buildStatement, envelopeBytes, signReceipt } from '../../src/attest/receipt.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../../src/attest/statement.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { verifyReceiptInBrowser } from '../../src/console/verify/index.js';
import { sha256Hex } from '../../src/core/digest.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../src/log/note-keys.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { verifyOffline } from '../../src/verify/offline-verifier.js';
import { newSigner, toolCallPredicate } from '../attest/fixtures.js';
import { oacp } from '../cli/harness.js';

const airlock = newSigner();
const agent = newSigner();
const stranger = newSigner();
const logSigner = newSigner();
const ORIGIN = 'test.oacp/console';
const logKey = formatVerifierKey(ORIGIN, SIG_TYPE_ED25519, logSigner.publicKey);

/** A small deterministic generator, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function flipChar(text: string, at: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const i = at % Math.max(1, text.length - 4);
  const next = alphabet[(alphabet.indexOf(text[i] ?? 'A') + 1) % alphabet.length] ?? 'A';
  return text.slice(0, i) + next + text.slice(i + 1);
}

type Tamper = (
  receipt: string,
  proof: string,
  other: { receipt: string; proof: string },
  r: () => number,
) => {
  receipt: string;
  proof: string;
};

/** Each way an attacker (or a broken disk) could hand the console a receipt. */
const TAMPERS: Record<string, Tamper> = {
  none: (receipt, proof) => ({ receipt, proof }),
  payload: (receipt, proof, _o, r) => {
    const env = JSON.parse(receipt);
    env.payload = flipChar(env.payload, Math.floor(r() * 400) + 8);
    return { receipt: JSON.stringify(env), proof };
  },
  signature: (receipt, proof, _o, r) => {
    const env = JSON.parse(receipt);
    env.signatures[0].sig = flipChar(env.signatures[0].sig, Math.floor(r() * 60));
    return { receipt: JSON.stringify(env), proof };
  },
  strangerSigned: (receipt, proof) => ({
    receipt: envelopeBytes(addSignature(JSON.parse(receipt), stranger)).toString('utf8'),
    proof,
  }),
  extraMember: (receipt, proof) => ({
    receipt: JSON.stringify({ ...JSON.parse(receipt), note: 'x' }),
    proof,
  }),
  otherProof: (receipt, _proof, other) => ({ receipt, proof: other.proof }),
  proofHash: (receipt, proof) => {
    const lines = proof.split('\n');
    if ((lines[2] ?? '') !== '') lines[2] = flipChar(lines[2] ?? '', 3);
    else lines[1] = 'index 1';
    return { receipt, proof: lines.join('\n') };
  },
  checkpointRoot: (receipt, proof) => {
    const lines = proof.split('\n');
    const blank = lines.indexOf('');
    lines[blank + 3] = flipChar(lines[blank + 3] ?? '', 5);
    return { receipt, proof: lines.join('\n') };
  },
  checkpointSignature: (receipt, proof) => {
    const lines = proof.split('\n');
    const sig = lines.findIndex((line) => line.startsWith('\u2014 '));
    lines[sig] = flipChar(lines[sig] ?? '', (lines[sig]?.length ?? 10) - 12);
    return { receipt, proof: lines.join('\n') };
  },
};

describe('the console verifier (WebCrypto) and oacp verify', () => {
  it('agree on 100 random receipts, tampered and not, check for check', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-console-verify-'));
    const log = await TransparencyLog.open(dir, { origin: ORIGIN, signer: logSigner });
    const logged: { receipt: string; index: number }[] = [];
    for (let i = 0; i < 20; i++) {
      const statement = buildStatement({
        predicateType: TOOL_CALL_PREDICATE_TYPE,
        predicate: { ...toolCallPredicate(agent), argumentsDigest: sha256Hex(`call ${i}`) },
      });
      const bytes = envelopeBytes(signReceipt(statement, i % 2 === 0 ? { airlock, agent } : { airlock }));
      logged.push({ receipt: bytes.toString('utf8'), index: (await log.append(bytes)).index });
    }
    const items = await Promise.all(
      logged.map(async ({ receipt, index }) => ({ receipt, proof: await log.proofFile(index) })),
    );
    await log.close();
    rmSync(dir, { recursive: true, force: true });

    // `oacp verify` itself (in-process, the same code path as the binary) reads files.
    const files = mkdtempSync(join(tmpdir(), 'oacp-console-verify-cli-'));
    const vkeyFile = join(files, 'log.vkey');
    const pemFile = join(files, 'signer.pem');
    writeFileSync(vkeyFile, `${logKey}\n`);
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(airlock.publicKey).toString('base64url') };
    writeFileSync(
      pemFile,
      createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }),
    );
    const cliVerify = async (receipt: string, proof: string) => {
      writeFileSync(join(files, 'receipt.json'), receipt);
      writeFileSync(join(files, 'receipt.tlog-proof'), proof);
      const run = await oacp([
        'verify',
        join(files, 'receipt.json'),
        '--proof',
        join(files, 'receipt.tlog-proof'),
        '--log-key',
        vkeyFile,
        '--signer-key',
        pemFile,
        '--json',
      ]);
      return JSON.parse(run.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    };

    const r = random(15);
    const names = Object.keys(TAMPERS);
    const seen = { ok: 0, failed: 0 };
    const counted = new Set<string>();
    for (let n = 0; n < 100; n++) {
      const pick = Math.floor(r() * items.length);
      const item = items[pick] as { receipt: string; proof: string };
      const other = items[(pick + 1) % items.length] as { receipt: string; proof: string };
      const name =
        n < names.length ? (names[n] as string) : (names[Math.floor(r() * names.length)] as string);
      const { receipt, proof } = (TAMPERS[name] as Tamper)(item.receipt, item.proof, other, r);
      counted.add(name);

      const cli = await cliVerify(receipt, proof);
      const library = verifyOffline({ receipt, proof, logKey, airlockKeys: [airlock.publicKey] });
      expect(library.ok).toBe(cli.ok);
      const browser = await verifyReceiptInBrowser({
        envelope: JSON.parse(receipt),
        proof,
        logKey,
        airlockKeys: [airlock.publicKey],
      });
      expect({ n, name, ok: browser.ok }).toEqual({ n, name, ok: cli.ok });
      expect(browser.ok).toBe(name === 'none');
      // The first failed check names the same layer (receipt or log) in both.
      const layer = (check?: { name: string }) => (check?.name.startsWith('log') ? 'log' : 'receipt');
      if (!cli.ok) {
        expect(layer(browser.checks.find((c) => !c.ok))).toBe(layer(cli.checks.find((c) => !c.ok)));
      }
      seen[browser.ok ? 'ok' : 'failed'] += 1;
    }
    rmSync(files, { recursive: true, force: true });
    expect(counted.size).toBe(names.length);
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.failed).toBeGreaterThan(50);
  });

  it('refuses a proof for another entry than the one asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-console-verify-'));
    const log = await TransparencyLog.open(dir, { origin: ORIGIN, signer: logSigner });
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: { ...toolCallPredicate(agent), argumentsDigest: sha256Hex('one') },
    });
    const bytes = envelopeBytes(signReceipt(statement, { airlock }));
    const { index } = await log.append(bytes);
    const proof = await log.proofFile(index);
    await log.close();
    rmSync(dir, { recursive: true, force: true });
    const input = {
      envelope: JSON.parse(bytes.toString('utf8')),
      proof,
      logKey,
      airlockKeys: [airlock.publicKey],
    };
    expect((await verifyReceiptInBrowser(input)).ok).toBe(true);
    const wrong = await verifyReceiptInBrowser({ ...input, expectedIndex: index + 1 });
    expect(wrong.ok).toBe(false);
    expect(wrong.checks.find((c) => !c.ok)?.detail).toMatch(/not 1/);
    const noKey = await verifyReceiptInBrowser({ ...input, airlockKeys: [] });
    expect(noKey.checks.find((c) => !c.ok)?.name).toBe('signatures');
    const badLogKey = await verifyReceiptInBrowser({
      ...input,
      logKey: logKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'),
    });
    expect(badLogKey.checks.find((c) => !c.ok)?.name).toBe('log-checkpoint');
  });
});

describe('the browser verifier and oacp verify refuse a payload that repeats a member name alike', () => {
  it('attack: a signed payload naming its predicate type twice is not a statement in the browser either', async () => {
    const text = JSON.stringify(
      buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate: toolCallPredicate(agent) }),
    );
    const payload = `{"predicateType":"https://example.invalid/other/v1",${text.slice(1)}`;
    const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(payload), [airlock]);
    const cli = verifyOffline({ receipt: JSON.stringify(envelope), airlockKeys: [airlock.publicKey] });
    const browser = await verifyReceiptInBrowser({
      envelope,
      proof: '',
      logKey,
      airlockKeys: [airlock.publicKey],
    });
    const detail =
      'the payload repeats the member "predicateType" in one object (duplicate JSON keys read differently to different parsers)';
    expect(cli.checks.find((check) => check.name === 'statement')).toMatchObject({ ok: false, detail });
    expect(browser.ok).toBe(false);
    expect(browser.checks.find((check) => check.name === 'statement')).toMatchObject({ ok: false, detail });
  });
});
