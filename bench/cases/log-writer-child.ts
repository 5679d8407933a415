/**
 * One writer process of the `log-writers` bench: opens the shared log, signs and appends WARMUP
 * receipts untimed (a bridge or gateway is a long-running process: this is V8 compiling the
 * signing and logging code, which a fresh process would otherwise pay inside the figure), says
 * "ready", waits for a line on stdin, then signs (in-thread, Ed25519, the bridge's
 * signReceiptAsync path: the same bytes as envelopeBytes) and appends COUNT receipts with 256 in
 * flight, durable acks, and prints {"count", "wallMs", "cpuMs", "processCpuMs"} (main-thread and
 * whole-process CPU, Linux) as soon as the last one is acknowledged (fdatasynced). Only then it
 * closes the log (the final publishing round, waiting its turn with the other writers) and
 * prints {"closeMs"}: closing is a once-per-process cost, timed apart from the appends.
 * Args: <dir> <log seed hex> <origin> <count> [<warmup>].
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { buildStatement, signReceiptAsync } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { generateEd25519, keySigner, privateKeyFromSeed } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { toolCallPredicate } from '../../test/attest/fixtures.js';

const [dir, seed, origin, countText, warmupText] = process.argv.slice(2);
const count = Number(countText);
const warmup = Number(warmupText ?? 0);
const log = await TransparencyLog.open(dir as string, {
  origin: origin as string,
  signer: keySigner(privateKeyFromSeed(Buffer.from(seed as string, 'hex'))),
});
const airlock = keySigner(generateEd25519().privateKey);
const statement = buildStatement({
  predicateType: TOOL_CALL_PREDICATE_TYPE,
  predicate: toolCallPredicate(undefined),
});

/** utime + stime in ms of the main thread (`task`) or of the whole process, every thread (`self`). */
function cpuMs(of: 'task' | 'self'): number {
  const path = of === 'task' ? `/proc/self/task/${process.pid}/stat` : '/proc/self/stat';
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Signs and appends `total` receipts, 256 in flight. */
async function appendMany(total: number): Promise<void> {
  let next = 0;
  async function lane(): Promise<void> {
    while (next < total) {
      next += 1;
      await log.append((await signReceiptAsync(statement, { airlock })).bytes);
    }
  }
  await Promise.all(Array.from({ length: 256 }, lane));
}

await appendMany(warmup);
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
const cpu = cpuMs('task');
const processCpu = cpuMs('self');
const start = performance.now();
await appendMany(count);
const wallMs = performance.now() - start;
const mainMs = cpuMs('task') - cpu;
const allMs = cpuMs('self') - processCpu;
process.stdout.write(`${JSON.stringify({ count, wallMs, cpuMs: mainMs, processCpuMs: allMs })}\n`);
const closing = performance.now();
await log.close();
process.stdout.write(`${JSON.stringify({ closeMs: performance.now() - closing })}\n`);
process.exit(0);
