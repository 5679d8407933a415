import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keySigner, privateKeyFromSeed } from '../../src/core/ed25519.js';
import { type Checkpoint, openCheckpoint } from '../../src/log/checkpoint.js';
import { verifyConsistency } from '../../src/log/proof-verify.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { rootFromTiles } from './tile-client.js';

const REPO = join(import.meta.dirname, '..', '..');
const VITE_NODE = join(REPO, 'node_modules', 'vite-node', 'vite-node.mjs');
const CHILD = join(import.meta.dirname, 'fixtures', 'append-child.ts');
const ROUNDS = 5;
const origin = 'oacp.example/crash-test';

const present = existsSync(VITE_NODE);
if (!present)
  console.log(`skipping: the crash test runs its child with vite-node, not found at ${VITE_NODE}`);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Child {
  process: ChildProcess;
  acked: Map<number, string>;
  /** Resolves once `count` appends have been acknowledged (or the child died). */
  waitForAcks(count: number): Promise<void>;
  exited: Promise<void>;
}

function startChild(dir: string, seed: string, round: number): Child {
  const child = spawn(process.execPath, [VITE_NODE, CHILD, dir, seed, origin, String(round)], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked = new Map<number, string>();
  let pending = '';
  let stderr = '';
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) {
      if (acked.size >= waiter.count || child.exitCode !== null || child.signalCode !== null)
        waiter.resolve();
      else waiters.push(waiter);
    }
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? ''; // a line cut by the kill is not an acknowledgement
    for (const line of lines) {
      const match = /^(\d+) ([0-9a-f]{64})$/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined) acked.set(Number(match[1]), match[2]);
    }
    wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => {
      wake();
      resolve();
    });
  });
  return {
    process: child,
    acked,
    exited: exited.then(() => {
      if (child.signalCode !== 'SIGKILL')
        throw new Error(`child exited by itself (${child.exitCode}): ${stderr}`);
    }),
    waitForAcks: (count) =>
      new Promise<void>((resolve) => {
        waiters.push({ count, resolve });
        wake();
      }),
  };
}

describe.skipIf(!present)('TransparencyLog survives SIGKILL at random moments', () => {
  it(`keeps every acknowledged entry and a consistent signed tree over ${ROUNDS} kill rounds`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-crash-'));
    dirs.push(dir);
    const seed = randomBytes(32).toString('hex');
    const signer = keySigner(privateKeyFromSeed(Buffer.from(seed, 'hex')));
    const everAcked = new Map<number, string>();
    let previous: Checkpoint | undefined;

    for (let round = 0; round < ROUNDS; round += 1) {
      const child = startChild(dir, seed, round);
      const target = 1 + Math.floor(Math.random() * 400);
      await child.waitForAcks(target);
      if (round === 0) {
        // While the child holds the log, this process must not open it.
        await expect(TransparencyLog.open(dir, { origin, signer })).rejects.toMatchObject({
          code: 'LOG_LOCKED',
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 25)));
      child.process.kill('SIGKILL');
      await child.exited;
      expect(child.acked.size, `round ${round}: the child acknowledged appends`).toBeGreaterThan(0);
      for (const [index, digest] of child.acked) everAcked.set(index, digest);

      // The dead child's lock is stale: reopening must work and recover.
      const log = await TransparencyLog.open(dir, { origin, signer });
      for (const [index, digest] of everAcked) {
        const entry = await log.entry(index);
        expect(createHash('sha256').update(entry).digest('hex'), `round ${round}, entry ${index}`).toBe(
          digest,
        );
      }
      const text = readFileSync(join(dir, 'checkpoint'), 'utf8');
      const opened = openCheckpoint(text, log.verifierKey);
      if (!opened.ok) throw new Error(`round ${round}: ${opened.reason}`);
      const current = opened.value.checkpoint;
      expect(current.size, `round ${round}: checkpoint after reopen covers the log`).toBe(log.size);
      expect(rootFromTiles(dir, current.size)).toEqual(current.root);
      if (previous !== undefined && previous.size > 0) {
        const proof = log.consistencyProof(previous.size, current.size);
        const verdict = verifyConsistency(previous.size, current.size, proof, previous.root, current.root);
        expect(verdict.ok, `round ${round}: ${verdict.ok ? '' : verdict.reason}`).toBe(true);
      }
      previous = current;
      await log.close();
    }
    expect(everAcked.size).toBeGreaterThan(ROUNDS);
  });
});
