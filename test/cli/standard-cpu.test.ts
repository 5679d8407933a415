import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { oacpBinary } from './harness.js';
import { executionReceipts } from './home-receipts.js';

/**
 * Issue 9 (receipts claim only what was measured): a standard-tier run's `usage.cpuMs` was the
 * time its guest's slices took on the guest thread's wall clock, so a run whose thread sat
 * descheduled (a busy host, a stopped process) was receipted as having used that time as CPU.
 * Here the real `oacp run` is stopped (SIGSTOP) for 170 ms of every 200 ms while its agent
 * loops on Date.now() for 3 s: the guest gets at most about 15% of that on a CPU (under 2 s
 * even if this runner's timers lag threefold), and its signed receipt must say so.
 */
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const scratch = mkdtempSync(join(tmpdir(), 'oacp-standard-cpu-'));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `oacp ARGS`, stopping it for `stoppedMs` of every `periodMs` until it exits. */
function runStoppedMostly(
  args: readonly string[],
  periodMs: number,
  stoppedMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let resume: ReturnType<typeof setTimeout> | undefined;
    const cycle = setInterval(() => {
      child.kill('SIGSTOP');
      resume = setTimeout(() => child.kill('SIGCONT'), stoppedMs);
    }, periodMs);
    child.on('exit', (code) => {
      clearInterval(cycle);
      clearTimeout(resume);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('oacp run, standard tier: usage.cpuMs in the receipt', () => {
  it('is the CPU the guest used, not the wall time of its slices (the process stopped 85% of the time)', {
    timeout: 60_000,
  }, async () => {
    const home = join(scratch, 'home');
    expect(oacpBinary(['--home', home, 'init']).code).toBe(0);
    const agent = join(scratch, 'spin.js');
    writeFileSync(agent, 'const t = Date.now(); let n = 0; while (Date.now() - t < 3000) n++; n > 0');
    const result = await runStoppedMostly(['--home', home, 'run', agent, '--quota-cpu', '20s'], 200, 170);
    expect(result.stderr).toMatch(/^oacp: execution receipt 0 in log \S+\n$/);
    expect(result.stdout.trim()).toBe('true');
    expect(result.code).toBe(0);
    const [receipt, ...more] = await executionReceipts(home);
    expect(more).toEqual([]);
    expect(receipt).toMatchObject({ tier: 'standard', outcome: 'exited' });
    const usage = receipt?.usage;
    // The guest's one slice lasted the 3 s loop; its thread was on a CPU for a small part of it.
    expect(usage?.wallMs).toBeGreaterThanOrEqual(3000);
    expect(usage?.cpuMs).toBeGreaterThan(0);
    expect(usage?.cpuMs).toBeLessThan(2000);
  });
});
