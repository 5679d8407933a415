import { sign, verify } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildStatement, envelopeBytes, signReceipt } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { hashLeaf } from '../../src/log/hash.js';
import { MerkleTree } from '../../src/log/merkle-tree.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../src/log/note-keys.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { OfflineVerifier, verifyOffline } from '../../src/verify/offline-verifier.js';
import { toolCallPredicate } from '../../test/attest/fixtures.js';
import { type BenchCase, figure, latencies, percentile, syncThroughput, throughput } from '../harness.js';

const APPENDS = 20_000;
const IN_FLIGHT = 256;

/** Receipt sign + durable log append, against signing alone and against raw fsynced appends. */
const appendCase: BenchCase = {
  id: 'receipt-append',
  title: 'receipt sign + log append per second (group commit, fsync)',
  async run(report) {
    const airlock = keySigner(generateEd25519().privateKey);
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(undefined),
    });
    const dir = mkdtempSync(join(tmpdir(), 'oacp-bench-log-'));
    const log = await TransparencyLog.open(dir, {
      origin: 'bench.oacp/log',
      signer: keySigner(generateEd25519().privateKey),
    });
    report(`appending ${APPENDS} signed receipts with ${IN_FLIGHT} in flight`);
    const subject = await throughput(
      () => log.append(envelopeBytes(signReceipt(statement, { airlock }))),
      APPENDS,
      IN_FLIGHT,
    );
    await log.close();
    const signOnly = syncThroughput(() => envelopeBytes(signReceipt(statement, { airlock })), APPENDS);
    // Baseline for durability: the same bytes appended to a plain file, one fsync per 256 entries.
    const bytes = envelopeBytes(signReceipt(statement, { airlock }));
    const fd = openSync(join(dir, 'plain.bin'), 'a');
    const start = performance.now();
    for (let i = 0; i < APPENDS; i++) {
      writeSync(fd, bytes);
      if (i % IN_FLIGHT === IN_FLIGHT - 1) fsyncSync(fd);
    }
    fsyncSync(fd);
    closeSync(fd);
    const plain = APPENDS / ((performance.now() - start) / 1000);
    return [
      figure({
        case: 'receipt-append',
        metric: 'sign + durable append',
        unit: 'receipts/s',
        subject,
        baselineName: 'sign only, no log',
        baseline: signOnly,
        goal: { op: '>=', value: 20_000 },
      }),
      figure({
        case: 'receipt-append',
        metric: 'sign + durable append',
        unit: 'receipts/s',
        subject,
        baselineName: 'write + fsync per 256 to a plain file',
        baseline: plain,
      }),
    ];
  },
};

/** Full offline verification (signatures, statement, checkpoint, inclusion) against one bare Ed25519 verify. */
const verifyCase: BenchCase = {
  id: 'receipt-verify',
  title: 'full offline receipt verification per second',
  async run() {
    const airlockKey = generateEd25519();
    const airlock = keySigner(airlockKey.privateKey);
    const logSigner = keySigner(generateEd25519().privateKey);
    const dir = mkdtempSync(join(tmpdir(), 'oacp-bench-verify-'));
    const log = await TransparencyLog.open(dir, { origin: 'bench.oacp/verify', signer: logSigner });
    const statement = buildStatement({
      predicateType: TOOL_CALL_PREDICATE_TYPE,
      predicate: toolCallPredicate(undefined),
    });
    let last = { index: 0 };
    let bytes: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 1000; i++) {
      bytes = envelopeBytes(signReceipt(statement, { airlock }));
      last = await log.append(bytes);
    }
    const input = {
      receipt: bytes.toString('utf8'),
      proof: log.proofFile(last.index),
      logKey: formatVerifierKey('bench.oacp/verify', SIG_TYPE_ED25519, logSigner.publicKey),
      airlockKeys: [airlock.publicKey],
    };
    await log.close();
    if (!verifyOffline(input).ok) throw new Error('bench receipt does not verify');
    const cold = syncThroughput(() => verifyOffline(input), 3_000);
    const auditor = new OfflineVerifier(input);
    const batch = syncThroughput(() => auditor.verify(input.receipt, input.proof), 5_000);
    const message = Buffer.from('x'.repeat(600));
    const signature = sign(null, message, airlockKey.privateKey);
    const baseline = syncThroughput(() => verify(null, message, airlockKey.publicKey, signature), 5_000);
    return [
      figure({
        case: 'receipt-verify',
        metric: 'full verification, batch (checkpoint checked once)',
        unit: 'verifications/s',
        subject: batch,
        baselineName: 'one bare Ed25519 verify',
        baseline,
        goal: { op: '>=', value: 5_000 },
        note: 'one core; a batch auditor re-checks signatures, statement and inclusion per receipt',
      }),
      figure({
        case: 'receipt-verify',
        metric: 'full verification, cold (checkpoint signature too)',
        unit: 'verifications/s',
        subject: cold,
        baselineName: 'one bare Ed25519 verify',
        baseline,
      }),
    ];
  },
};

const MILLION = 1_000_000;

/** Proof generation at 1M entries against computing one leaf hash. */
const proofCase: BenchCase = {
  id: 'proof-1m',
  title: 'inclusion and consistency proof generation at 1M entries',
  async run(report) {
    const tree = new MerkleTree();
    report(`building a ${MILLION}-leaf tree in memory`);
    for (let i = 0; i < MILLION; i++) tree.push(hashLeaf(Buffer.from(`entry ${i}`)));
    let i = 0;
    const inclusion = await latencies(() => tree.inclusionProof((i = (i * 7919 + 13) % MILLION)), 2_000);
    const consistency = await latencies(
      () => tree.consistencyProof(1 + (i = (i * 7919 + 13) % (MILLION - 1))),
      2_000,
    );
    const leaf = await latencies(() => hashLeaf(Buffer.from('one entry')), 2_000);
    return [
      figure({
        case: 'proof-1m',
        metric: 'inclusion proof p50',
        unit: 'ms',
        subject: percentile(inclusion, 50),
        baselineName: 'one leaf hash',
        baseline: percentile(leaf, 50),
        goal: { op: '<=', value: 1 },
      }),
      figure({
        case: 'proof-1m',
        metric: 'consistency proof p50',
        unit: 'ms',
        subject: percentile(consistency, 50),
        baselineName: 'one leaf hash',
        baseline: percentile(leaf, 50),
        goal: { op: '<=', value: 1 },
      }),
    ];
  },
};

export const trustCoreCases: BenchCase[] = [appendCase, verifyCase, proofCase];
