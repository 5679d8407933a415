import { generateKeyPairSync, sign } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStatement } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { signCheckpoint } from '../../src/log/checkpoint.js';
import { ed25519NoteSigner } from '../../src/log/note-keys.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { toolCallPredicate } from '../attest/fixtures.js';
import { withLogState } from '../log-state.js';
import { oacp, oacpBinary, tempDir } from './harness.js';

/** A home with a few receipts, exported with `oacp log export` and `oacp keys export`. */
async function populatedHome(
  origin: string,
  receipts: number,
): Promise<{ home: string; keys: string; out: string }> {
  const root = tempDir();
  const home = join(root, 'home');
  expect((await oacp(['--home', home, 'init', '--origin', origin])).code).toBe(0);
  const node = await OacpNode.open(home, withLogState({}));
  try {
    for (let i = 0; i < receipts; i++) {
      await node.record(
        buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate: toolCallPredicate(undefined) }),
      );
    }
  } finally {
    await node.close();
  }
  const keys = join(root, 'keys');
  expect((await oacp(['--home', home, 'keys', 'export', '--out', keys])).code).toBe(0);
  const out = join(root, 'export');
  expect((await oacp(['--home', home, 'log', 'export', '5', '--out', out])).code).toBe(0);
  return { home, keys, out };
}

describe('oacp verify', () => {
  let main: { home: string; keys: string; out: string };
  let other: { home: string; keys: string; out: string };
  beforeAll(async () => {
    main = await populatedHome('oacp.test/main', 11);
    other = await populatedHome('oacp.test/other', 11);
  });

  const args = (over: Partial<Record<'receipt' | 'proof' | 'logKey' | 'signer', string>> = {}) => [
    'verify',
    over.receipt ?? join(main.out, 'receipt.json'),
    '--proof',
    over.proof ?? join(main.out, 'receipt.json.tlog-proof'),
    '--log-key',
    over.logKey ?? join(main.keys, 'log.vkey'),
    '--signer-key',
    over.signer ?? join(main.keys, 'signer.pem'),
  ];

  it('verifies an exported receipt offline and reports the trust level', async () => {
    const result = await oacp(args());
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ok   log-inclusion: receipt is entry 5 of 11');
    expect(result.stdout).toContain('trust level: Basic');
    expect(result.stdout).toMatch(/verified$/);
  });

  it('verifies a pretty-printed copy of the same receipt (the log holds its canonical form)', async () => {
    const pretty = join(tempDir(), 'pretty.json');
    writeFileSync(
      pretty,
      JSON.stringify(JSON.parse(readFileSync(join(main.out, 'receipt.json'), 'utf8')), null, 2),
    );
    expect((await oacp(args({ receipt: pretty }))).code).toBe(0);
  });

  const refusals: Array<
    [string, () => Partial<Record<'receipt' | 'proof' | 'logKey' | 'signer', string>>, RegExp]
  > = [
    [
      'malformed JSON',
      () => ({ receipt: write('{"payload": ') }),
      /FAIL receipt-json: the receipt is not valid JSON/,
    ],
    ['a wrong signer key', () => ({ signer: join(other.keys, 'signer.pem') }), /FAIL signatures/],
    ['a wrong log key', () => ({ logKey: join(other.keys, 'log.vkey') }), /FAIL log-inclusion/],
    [
      'a tampered payload',
      () => {
        const envelope = JSON.parse(readFileSync(join(main.out, 'receipt.json'), 'utf8')) as {
          payload: string;
        };
        const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
        statement.predicate.policy.effect = 'allow';
        statement.predicate.tool.name = 'write_file';
        envelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
        return { receipt: write(JSON.stringify(envelope)) };
      },
      /FAIL signatures[\s\S]*FAIL log-inclusion/,
    ],
    [
      'an envelope of 300,000 copies of its one good signature (each would be checked under every key)',
      () => {
        const envelope = JSON.parse(readFileSync(join(main.out, 'receipt.json'), 'utf8')) as {
          signatures: unknown[];
        };
        const one = envelope.signatures[0];
        envelope.signatures = new Array(300_000).fill(one);
        return { receipt: write(JSON.stringify(envelope)) };
      },
      /FAIL envelope: the envelope carries 300000 signatures; a receipt may carry at most 64, so none was checked/,
    ],
    [
      'a truncated proof',
      () => {
        const lines = readFileSync(join(main.out, 'receipt.json.tlog-proof'), 'utf8').split('\n');
        return { proof: write(`${lines.slice(0, 3).join('\n')}\n`) };
      },
      /FAIL log-inclusion: LOG_MALFORMED_PROOF_FILE/,
    ],
    [
      'a reordered proof',
      () => {
        const lines = readFileSync(join(main.out, 'receipt.json.tlog-proof'), 'utf8').split('\n');
        [lines[2], lines[3]] = [lines[3] ?? '', lines[2] ?? ''];
        return { proof: write(lines.join('\n')) };
      },
      /FAIL log-inclusion: LOG_INCLUSION_FAILED/,
    ],
    [
      'a checkpoint from another origin',
      () => ({ proof: join(other.out, 'receipt.json.tlog-proof'), logKey: join(other.keys, 'log.vkey') }),
      /FAIL (signatures|log-inclusion)/,
    ],
  ];

  for (const [name, make, expected] of refusals) {
    it(`refuses ${name} with a reason and a non-zero exit`, async () => {
      const result = await oacp(args(make()));
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(expected);
      expect(result.stdout).toContain('trust level: Untrusted');
      expect(result.stdout).toMatch(/NOT verified$/);
    });
  }

  it('refuses a proof for another entry of the same log, naming the entry it claimed', async () => {
    // The home's receipts are byte-identical (one statement, recorded alike), so add one that is not.
    const other = await OacpNode.open(main.home, withLogState({}));
    await other.record(
      buildStatement({
        predicateType: TOOL_CALL_PREDICATE_TYPE,
        predicate: { ...toolCallPredicate(undefined), agent: { clientId: 'another-client' } },
      }),
    );
    await other.close();
    const last = join(tempDir(), 'last');
    expect((await oacp(['--home', main.home, 'log', 'export', '11', '--out', last])).code).toBe(0);
    const result = await oacp(args({ proof: join(last, 'receipt.json.tlog-proof') }));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      "FAIL log-inclusion: LOG_INCLUSION_FAILED: this receipt is not shown to be entry 11 of the checkpoint's 12 (the proof leads to a different root): the proof is for another entry",
    );
    expect(result.stdout).toMatch(/NOT verified$/);
  });

  it('refuses a proof whose checkpoint names another origin than the log key', async () => {
    const proof = readFileSync(join(main.out, 'receipt.json.tlog-proof'), 'utf8').replace(
      /^oacp\.test\/main$/m,
      'oacp.test/elsewhere',
    );
    const result = await oacp(args({ proof: write(proof) }));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL log-inclusion/);
  });

  it('fails when a log key is given without a proof', async () => {
    const result = await oacp([
      'verify',
      join(main.out, 'receipt.json'),
      '--log-key',
      join(main.keys, 'log.vkey'),
      '--signer-key',
      join(main.keys, 'signer.pem'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('no --proof file');
  });

  it('names the missing input file in one line', async () => {
    const result = await oacp(['verify', '/nonexistent/receipt.json']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('oacp: cannot read receipt /nonexistent/receipt.json: no such file');
  });
});

describe('oacp log consistency and witness', () => {
  it('proves a later checkpoint extends an earlier one, and a witness cosigns only consistent growth', async () => {
    const root = tempDir();
    const home = join(root, 'home');
    await oacp(['--home', home, 'init', '--origin', 'oacp.test/witnessed']);
    const record = async (count: number) => {
      const node = await OacpNode.open(home, withLogState({}));
      for (let i = 0; i < count; i++) {
        await node.record(
          buildStatement({
            predicateType: TOOL_CALL_PREDICATE_TYPE,
            predicate: toolCallPredicate(undefined),
          }),
        );
      }
      await node.close();
      const checkpoint = (await oacp(['--home', home, 'log', 'checkpoint'])).stdout;
      return write(`${checkpoint}\n`);
    };
    const first = await record(3);
    const second = await record(4);
    const proofFile = join(root, 'proof.txt');
    const consistent = await oacp(['--home', home, 'log', 'consistency', first, second, '--out', proofFile]);
    expect(consistent.code).toBe(0);
    expect(consistent.stdout).toContain('size 7 extends size 3');

    const backwards = await oacp(['--home', home, 'log', 'consistency', second, first, '--proof', proofFile]);
    expect(backwards.code).toBe(1);
    expect(backwards.stderr).toContain('not consistent');

    const keys = join(root, 'keys');
    await oacp(['--home', home, 'keys', 'export', '--out', keys]);
    const witnessHome = join(root, 'witness');
    await oacp(['--home', witnessHome, 'init']);
    await oacp(['--home', witnessHome, 'agent', 'create', 'w1']);
    const witness = (checkpoint: string, proof?: string) =>
      oacp([
        '--home',
        witnessHome,
        'log',
        'witness',
        checkpoint,
        '--log-key',
        join(keys, 'log.vkey'),
        '--as',
        'w1',
        ...(proof === undefined ? [] : ['--proof', proof]),
      ]);
    const firstCosign = await witness(first);
    expect(firstCosign.code).toBe(0);
    expect(firstCosign.stdout).toMatch(/— oacp-witness\/w1 /);
    expect((await witness(second, proofFile)).code).toBe(0);
    const rollback = await witness(first);
    // A rollback is a security event: its own exit status.
    expect(rollback.code).toBe(3);
    expect(rollback.stderr).toMatch(/SECURITY: LOG_WITNESS_ROLLBACK/);
  });
});

describe('oacp verify on deeply nested files', () => {
  it('refuses a receipt or a payload nested past 64 levels in one line, even under a small heap', () => {
    const dir = tempDir();
    const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    // JSON.parse builds every level: ten million of them took about a gigabyte of heap, so a
    // verifier with less died with a V8 stack trace instead of a reason.
    const receipt = join(dir, 'deep-receipt.json');
    writeFileSync(receipt, deep(10_000_000));
    const statement = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${'0'.repeat(64)}"}}],"predicateType":"https://oacp.dev/attestation/tool-call/v1","predicate":{"a":${deep(6_000_000)}}}`;
    const payload = join(dir, 'deep-payload.json');
    writeFileSync(
      payload,
      JSON.stringify({
        payload: Buffer.from(statement).toString('base64'),
        payloadType: 'application/vnd.in-toto+json',
        signatures: [{ keyid: '', sig: 'AAAA' }],
      }),
    );
    for (const [file, line] of [
      [receipt, 'FAIL receipt-json: the receipt nests more than 64 levels deep (the limit)'],
      [payload, 'FAIL statement: the payload nests more than 64 levels deep (the limit)'],
    ] as const) {
      const result = oacpBinary(['verify', file], { NODE_OPTIONS: '--max-old-space-size=256' });
      expect(result.stderr).not.toMatch(/heap|FATAL|\n\s+at /);
      expect(result.code, result.stderr.slice(0, 200)).toBe(1);
      expect(result.stdout).toContain(line);
      expect(result.stdout).toMatch(/NOT verified\n?$/);
    }
  });
});

describe('oacp log consistency on a forked log', () => {
  it('names two signed trees that one does not extend a fork (exit 3), and a swapped order a usage error', async () => {
    const root = tempDir();
    const home = join(root, 'home');
    const fork = join(root, 'fork');
    // Each copy remembers the size it signed on its own: the log refuses to roll its own state back.
    const env = (at: string) => ({ OACP_LOG_STATE_DIR: `${at}-state` });
    await oacp(['--home', home, 'init', '--origin', 'oacp.test/forked'], env(home));
    const record = async (at: string, count: number) => {
      const node = await OacpNode.open(at, env(at));
      // Receipts that differ between the two copies (the same statement would grow both alike).
      const predicate = { ...toolCallPredicate(undefined), agent: { clientId: at } };
      for (let i = 0; i < count; i++) {
        await node.record(buildStatement({ predicateType: TOOL_CALL_PREDICATE_TYPE, predicate }));
      }
      await node.close();
      return write(`${(await oacp(['--home', at, 'log', 'checkpoint'], env(at))).stdout}\n`);
    };
    await record(home, 3);
    // The same key, two histories from entry 3 on: what a log that equivocates hands two readers.
    cpSync(home, fork, { recursive: true });
    cpSync(`${home}-state`, `${fork}-state`, { recursive: true });
    const ours = await record(home, 2);
    const theirs = await record(fork, 2);
    const theirsLater = await record(fork, 2);
    expect(readFileSync(ours, 'utf8').split('\n')[1]).toBe('5');
    expect(readFileSync(theirs, 'utf8').split('\n')[1]).toBe('5');

    const twoRoots = await oacp(['--home', home, 'log', 'consistency', ours, theirs], env(home));
    expect(twoRoots.code).toBe(3);
    expect(twoRoots.stderr).toMatch(/^oacp: SECURITY: LOG_FORK: .*two roots at size 5.*the log forked$/m);

    // The fork's own proof of 5 -> 7 does not start from our size-5 root.
    const notExtended = await oacp(['--home', fork, 'log', 'consistency', ours, theirsLater], env(fork));
    expect(notExtended.code).toBe(3);
    expect(notExtended.stderr).toMatch(
      /^oacp: SECURITY: LOG_FORK: .*size 7 of oacp\.test\/forked is not shown to extend size 5/m,
    );

    // The positive control on the same files: the fork's own history is consistent.
    expect((await oacp(['--home', fork, 'log', 'consistency', theirs, theirsLater], env(fork))).code).toBe(0);

    const swapped = await oacp(['--home', fork, 'log', 'consistency', theirsLater, theirs], env(fork));
    expect(swapped.code).toBe(1);
    expect(swapped.stderr).toContain('has size 7, more than');
    expect(swapped.stderr).not.toContain('SECURITY');
  });
});

describe('oacp log consistency from a new log', () => {
  it("takes a new log's first checkpoint (size 0) as extended by every later one, and a signed size 0 with another root as a fork", async () => {
    const home = join(tempDir(), 'home');
    expect((await oacp(['--home', home, 'init', '--origin', 'oacp.test/empty-start'])).code).toBe(0);
    // The checkpoint an auditor saves before the first call: the empty tree, signed.
    const empty = write(`${(await oacp(['--home', home, 'log', 'checkpoint'])).stdout}\n`);
    expect(readFileSync(empty, 'utf8').split('\n')[1]).toBe('0');
    const node = await OacpNode.open(home, withLogState({}));
    try {
      for (let i = 0; i < 3; i++)
        await node.record(
          buildStatement({
            predicateType: TOOL_CALL_PREDICATE_TYPE,
            predicate: toolCallPredicate(undefined),
          }),
        );
      const later = write(`${(await oacp(['--home', home, 'log', 'checkpoint'])).stdout}\n`);
      // It printed "SECURITY: LOG_FORK ... a fork of the log" (exit 3) for an honest log.
      const consistent = await oacp(['--home', home, 'log', 'consistency', empty, later]);
      expect(consistent.stderr).not.toContain('SECURITY');
      expect(consistent.code).toBe(0);
      expect(consistent.stdout).toContain('size 3 extends size 0 (0-hash proof)');

      // The log key signing size 0 over a root that is not the empty tree's: no tree extends it.
      const forged = signCheckpoint(
        { origin: 'oacp.test/empty-start', size: 0, root: new Uint8Array(32).fill(7), extensions: [] },
        ed25519NoteSigner('oacp.test/empty-start', node.keys.logSigner()),
      );
      const fork = await oacp(['--home', home, 'log', 'consistency', write(forged), later]);
      expect(fork.code).toBe(3);
      expect(fork.stderr).toMatch(/^oacp: SECURITY: LOG_FORK: .*size 0 does not hold the empty tree's root/m);
    } finally {
      await node.close();
    }
  });
});

function write(text: string): string {
  const path = join(tempDir(), 'file');
  writeFileSync(path, text);
  return path;
}

/**
 * A receipt written by another DSSE implementation: node:crypto only, PAE spelled out as the
 * spec (envelope.md, "Signature definition") gives it, and `keyid` left out, as the spec allows.
 */
describe('oacp verify on an envelope without keyid', () => {
  const root = tempDir();
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const signerPem = join(root, 'signer.pem');
  writeFileSync(signerPem, publicKey.export({ type: 'spki', format: 'pem' }));
  const payloadType = 'application/vnd.in-toto+json';
  const statement = buildStatement({
    predicateType: TOOL_CALL_PREDICATE_TYPE,
    predicate: toolCallPredicate(undefined),
  });
  const body = Buffer.from(JSON.stringify(statement), 'utf8');
  const preAuth = Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${body.length} `, 'utf8'),
    body,
  ]);
  const envelope = {
    payloadType,
    payload: body.toString('base64'),
    signatures: [{ sig: sign(null, preAuth, privateKey).toString('base64') }],
  };

  it('accepts it when the signature verifies under a trusted key', async () => {
    const result = await oacp(['verify', write(JSON.stringify(envelope)), '--signer-key', signerPem]);
    expect(result.stdout).toContain('ok   signatures');
    expect(result.stdout).toContain('trust level: Basic');
    expect(result.code).toBe(0);
  });

  it('refuses it once the payload is changed', async () => {
    const tampered = Buffer.from(JSON.stringify({ ...statement, subject: [] }), 'utf8');
    const result = await oacp([
      'verify',
      write(JSON.stringify({ ...envelope, payload: tampered.toString('base64') })),
      '--signer-key',
      signerPem,
    ]);
    expect(result.stdout).toMatch(/FAIL signatures/);
    expect(result.code).toBe(1);
  });

  it('refuses it when the signature verifies under no trusted key', async () => {
    const other = join(root, 'other.pem');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const result = await oacp(['verify', write(JSON.stringify(envelope)), '--signer-key', other]);
    expect(result.stdout).toMatch(/FAIL signatures/);
    expect(result.code).toBe(1);
  });
});
