import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keySigner, privateKeyFromSeed } from '../../src/core/ed25519.js';
import { type Checkpoint, openCheckpoint } from '../../src/log/checkpoint.js';
import { verifyConsistency } from '../../src/log/proof-verify.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { appendChildScript } from './child-bundle.js';
import { entryFromTiles, leafFromTiles, rootFromTiles } from './tile-client.js';

const REPO = join(import.meta.dirname, '..', '..');
const CHILD = appendChildScript();
const ROUNDS = 3;
const WRITERS = 3;
const origin = 'oacp.example/crash-test';

const dirs: string[] = [];
const started: ChildProcess[] = [];
afterAll(() => {
  // A failed assertion must not leave writers running.
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Child {
  process: ChildProcess;
  acked: Map<number, string>;
  /** Resolves once `count` appends have been acknowledged (or the child died). */
  waitForAcks(count: number): Promise<void>;
  exited: Promise<void>;
}

function startChild(
  dir: string,
  seed: string,
  tag: string,
  ack: 'durable' | 'written',
  syncDelayMs = 0,
): Child {
  const child = spawn(process.execPath, [CHILD, dir, seed, origin, tag, ack], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OACP_TEST_SYNC_DELAY_MS: String(syncDelayMs) },
  });
  started.push(child);
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

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('TransparencyLog: many writer processes killed at random moments', () => {
  it(`never loses or reuses an acknowledged index, in either ack mode, over ${ROUNDS} rounds of ${WRITERS} writers`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-crash-'));
    dirs.push(dir);
    const seed = randomBytes(32).toString('hex');
    const signer = keySigner(privateKeyFromSeed(Buffer.from(seed, 'hex')));
    const everAcked = new Map<number, string>();
    let previous: Checkpoint | undefined;

    for (let round = 0; round < ROUNDS; round += 1) {
      // Every round mixes both modes: writers acknowledging after fsync and after write(2).
      const children = Array.from({ length: WRITERS }, (_, w) =>
        startChild(dir, seed, `r${round}w${w}`, (round + w) % 2 === 0 ? 'durable' : 'written'),
      );
      await Promise.all(children.map((child) => child.waitForAcks(1 + Math.floor(Math.random() * 300))));
      if (round === 0) {
        // Readers are never blocked by writers.
        const reader = await TransparencyLog.open(dir, { origin, signer, readOnly: true });
        expect(reader.size).toBeGreaterThan(0);
        await reader.close();
      }
      // Kill each writer at its own random moment, so some die inside write(2) or fsync.
      await Promise.all(
        children.map(async (child) => {
          await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 30)));
          child.process.kill('SIGKILL');
          await child.exited;
        }),
      );
      for (const [w, child] of children.entries()) {
        expect(child.acked.size, `round ${round} writer ${w} acknowledged appends`).toBeGreaterThan(0);
        for (const [index, digest] of child.acked) {
          const earlier = everAcked.get(index);
          expect(earlier === undefined || earlier === digest, `index ${index} handed out twice`).toBe(true);
          everAcked.set(index, digest);
        }
      }

      // Reopening repairs at most a torn tail and republishes; then check with an independent
      // tile reader: the signed root from the tiles, and each acknowledged entry from its bundle.
      const log = await TransparencyLog.open(dir, { origin, signer });
      await log.close();
      const opened = openCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), log.verifierKey);
      if (!opened.ok) throw new Error(`round ${round}: ${opened.reason}`);
      const current = opened.value.checkpoint;
      expect(current.size, `round ${round}: the checkpoint covers every record`).toBe(log.size);
      expect(rootFromTiles(dir, current.size)).toEqual(current.root);
      for (const [index, digest] of everAcked) {
        expect(index, `acknowledged index ${index} is inside the signed tree`).toBeLessThan(current.size);
        const entry = entryFromTiles(dir, index, current.size);
        expect(sha256(entry), `round ${round}, entry ${index}`).toBe(digest);
        expect(Buffer.from(leafFromTiles(dir, index, current.size)).toString('hex')).toBe(
          createHash('sha256')
            .update(Buffer.from([0]))
            .update(entry)
            .digest('hex'),
        );
      }
      if (previous !== undefined && previous.size > 0) {
        const reader = await TransparencyLog.open(dir, { origin, signer, readOnly: true });
        const proof = reader.consistencyProof(previous.size, current.size);
        await reader.close();
        const verdict = verifyConsistency(previous.size, current.size, proof, previous.root, current.root);
        expect(verdict.ok, `round ${round}: ${verdict.ok ? '' : verdict.reason}`).toBe(true);
      }
      previous = current;
    }
    expect(everAcked.size).toBeGreaterThan(ROUNDS * WRITERS);
  });

  it('a writer killed while one batch is being fdatasynced and the next is already written loses no acknowledged entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-crash-overlap-'));
    dirs.push(dir);
    const seed = randomBytes(32).toString('hex');
    const signer = keySigner(privateKeyFromSeed(Buffer.from(seed, 'hex')));
    // Every fdatasync held 20 ms: bursts of appends are written while the one before is synced,
    // so the kill lands with batches in both states. (A kill cannot undo a write(2): this checks
    // order, indexes and recovery under overlap; that an acknowledgement waits for an fdatasync
    // begun after its write is test/log/pipelined-commit.test.ts.)
    for (let round = 0; round < 2; round += 1) {
      const child = startChild(dir, seed, `overlap${round}`, 'durable', 20);
      await child.waitForAcks(40 + Math.floor(Math.random() * 40));
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 30)));
      child.process.kill('SIGKILL');
      await child.exited;
      expect(child.acked.size).toBeGreaterThan(0);
      const log = await TransparencyLog.open(dir, { origin, signer });
      await log.close();
      const opened = openCheckpoint(readFileSync(join(dir, 'checkpoint'), 'utf8'), log.verifierKey);
      if (!opened.ok) throw new Error(opened.reason);
      const current = opened.value.checkpoint;
      expect(current.size).toBe(log.size);
      expect(rootFromTiles(dir, current.size)).toEqual(current.root);
      for (const [index, digest] of child.acked) {
        expect(index).toBeLessThan(current.size);
        expect(sha256(entryFromTiles(dir, index, current.size)), `entry ${index}`).toBe(digest);
      }
    }
  });
});
