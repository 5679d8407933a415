import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { supervise } from './supervisor.js';

const LIMITS = { outputBytes: 64 * 1024 * 1024, cpuBusyMs: 600_000, maxProcesses: 64, pollMs: 60_000 };

/** Blocks this thread (the event loop) for `ms`, as a loaded host or a long synchronous task would. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Waits until the backgrounded $g has its own session: before that, the sweep of the group at the exit kills it. */
const OUT_OF_GROUP = 'until [ "$(cut -d" " -f6 /proc/$g/stat)" = "$g" ]; do :; done';

/** A workload supervised as the tiers do: its own process group. */
function workload(command: string, args: readonly string[]) {
  const child = spawn(command, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  return { child, sandbox: supervise({ id: 'drain-test', tier: 'light', child, limits: LIMITS }) };
}

describe('the last output of a workload (supervise: exit)', () => {
  it('fault: the loop stalls past the drain bound right after the exit, while the reader is behind: nothing written before the exit is lost', async () => {
    // As much as its stdout takes without a reader (non-blocking writes until EAGAIN), the count on stderr, then exit.
    const { child, sandbox } = workload('/usr/bin/python3', [
      '-c',
      'import os, sys\nos.set_blocking(1, False)\nn = 0\ntry:\n  while True: n += os.write(1, b"x" * 65536)\nexcept BlockingIOError: pass\nsys.stderr.write(str(n))',
    ]);
    let written = '';
    sandbox.stderr.on('data', (chunk: Buffer) => {
      written += chunk.toString();
    });
    let got = 0;
    // The reader starts after the exit and after a stall longer than the old 1 s bound.
    child.once('exit', () => {
      stall(1_500);
      sandbox.stdout.on('data', (chunk: Buffer) => {
        got += chunk.length;
      });
    });
    const status = await sandbox.exit;
    expect(status).toEqual({ code: 0, signal: null });
    expect(Number(written)).toBeGreaterThan(0);
    expect(got).toBe(Number(written));
  }, 120_000);

  it('a backgrounded grandchild outside the tree holding stdout open does not hold exit; output before it is kept', async () => {
    // setsid: its own session, so the sweep of the workload's group at its exit does not reach it.
    const { child, sandbox } = workload('/bin/sh', [
      '-c',
      `setsid sleep 600 & g=$!; ${OUT_OF_GROUP}; echo "$g"; echo last`,
    ]);
    let out = '';
    sandbox.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    let closed = false;
    child.once('close', () => {
      closed = true;
    });
    const status = await sandbox.exit;
    const grandchild = Number(out.split('\n')[0]);
    try {
      expect(status).toEqual({ code: 0, signal: null });
      expect(out).toMatch(/^\d+\nlast\n$/);
      // The pipe was still open when exit resolved: it resolved without waiting for it.
      expect(closed).toBe(false);
    } finally {
      if (grandchild > 0) process.kill(grandchild, 'SIGKILL');
    }
  }, 120_000);

  it('a grandchild outside the tree that keeps writing does not hold exit either', async () => {
    const { child, sandbox } = workload('/bin/sh', [
      '-c',
      `setsid sh -c "while :; do echo more; sleep 0.05; done" & g=$!; ${OUT_OF_GROUP}; echo "$g"`,
    ]);
    let out = '';
    sandbox.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    let closed = false;
    child.once('close', () => {
      closed = true;
    });
    const status = await sandbox.exit;
    const grandchild = Number(out.split('\n')[0]);
    try {
      expect(status).toEqual({ code: 0, signal: null });
      expect(closed).toBe(false);
    } finally {
      if (grandchild > 0) process.kill(grandchild, 'SIGKILL');
    }
  }, 120_000);
});
