/**
 * One writer process of the `log-writers` bench: opens the shared log, signs and appends WARMUP
 * receipts untimed (a bridge or gateway is a long-running process: this is V8 compiling the
 * signing and logging code, which a fresh process would otherwise pay inside the figure), says
 * "ready", waits for "go" on stdin, then signs (in-thread, Ed25519, the bridge's
 * signReceiptAsync path: the same bytes as envelopeBytes) and appends receipts with 256 in
 * flight, durable acks, until "stop". It then prints {"count", "wallMs", "cpuMs",
 * "processCpuMs"}: the receipts acknowledged (fdatasynced) between the two lines, and the
 * main-thread and whole-process CPU (Linux) over that window. Then it lets the appends in
 * flight finish, closes the log (the final publishing round, taking turns with the other
 * writers) and prints {"closeMs"}: closing is a once-per-process cost, timed apart.
 * Args: <dir> <log seed hex> <origin> [<warmup>].
 */

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { buildStatement, signReceiptAsync } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { generateEd25519, keySigner, privateKeyFromSeed } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { toolCallPredicate } from '../../test/attest/fixtures.js';

const [dir, seed, origin, warmupText] = process.argv.slice(2);
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

/**
 * Signs and appends receipts, 256 in flight, while `more()` says so; `acknowledged` counts each
 * durable acknowledgement.
 */
async function appendWhile(more: () => boolean, acknowledged: () => void): Promise<void> {
  async function lane(): Promise<void> {
    while (more()) {
      await log.append((await signReceiptAsync(statement, { airlock })).bytes);
      acknowledged();
    }
  }
  await Promise.all(Array.from({ length: 256 }, lane));
}

const lines = createInterface({ input: process.stdin });
let started = 0;
await appendWhile(
  () => started++ < warmup,
  () => undefined,
);
process.stdout.write('ready\n');
await once(lines, 'line');
const cpu = cpuMs('task');
const processCpu = cpuMs('self');
const start = performance.now();
let count = 0;
let running = true;
const appending = appendWhile(
  () => running,
  () => {
    count += 1;
  },
);
await once(lines, 'line');
const window = { count, wallMs: performance.now() - start };
const mainMs = cpuMs('task') - cpu;
const allMs = cpuMs('self') - processCpu;
running = false;
process.stdout.write(`${JSON.stringify({ ...window, cpuMs: mainMs, processCpuMs: allMs })}\n`);
await appending;
const closing = performance.now();
await log.close();
process.stdout.write(`${JSON.stringify({ closeMs: performance.now() - closing })}\n`);
process.exit(0);
