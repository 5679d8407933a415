import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { withLogState } from '../log-state.js';
import { oacpAsUid1000, oacpBinary, uid1000Home } from './harness.js';
import { executionReceipts } from './home-receipts.js';

/**
 * `oacp run` records exactly one signed receipt per run, whatever the outcome
 * (docs/receipts.md, Execution predicate): read back from the log and verified
 * with the home's public key.
 */
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const hardenedOk = (await new HardenedTier().availability()).available;
const isRoot = process.getuid?.() === 0;
const scratch = mkdtempSync(join(tmpdir(), 'oacp-run-receipts-'));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let homes = 0;
function initHome(): string {
  const home = join(scratch, `home${homes++}`);
  expect(oacpBinary(['--home', home, 'init']).code).toBe(0);
  return home;
}

/** Runs `sh -c script` through `oacp run`, calling `during` once the workload's first output arrives. */
function whileRunning(
  home: string,
  script: string,
  during: (child: ChildProcess) => void,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, '--home', home, 'run', '--', '/bin/sh', '-c', script], {
    env: withLogState({ PATH: process.env.PATH }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.once('data', () => during(child));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe.skipIf(!hardenedOk || !existsSync(BIN))('oacp run receipts', () => {
  it('records one receipt of a default run, naming the tier, the limits, the outcome and the exit', async () => {
    const home = initHome();
    const result = oacpBinary([
      '--home',
      home,
      'run',
      '--quota-memory',
      '96mb',
      '--',
      '/bin/sh',
      '-c',
      'exit 3',
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/execution receipt 0 in log /);
    const [receipt, ...more] = await executionReceipts(home);
    expect(more).toEqual([]);
    expect(receipt).toMatchObject({
      tier: 'hardened',
      outcome: 'exited',
      exit: { code: 3, signal: null },
      limits: { memoryMb: 96, cpuMsTotal: 3_600_000, maxPids: 128 },
    });
    expect(receipt?.codeDigest).toMatch(/^[0-9a-f]{64}$/);
    // Offline, from public keys alone, as a third party would check it.
    const keys = join(home, 'public');
    const out = join(home, 'export');
    expect(oacpBinary(['--home', home, 'keys', 'export', '--out', keys]).code).toBe(0);
    expect(oacpBinary(['--home', home, 'log', 'export', '0', '--out', out]).code).toBe(0);
    const receipt0 = join(out, 'receipt.json');
    const verified = oacpBinary([
      'verify',
      receipt0,
      ...['--proof', `${receipt0}.tlog-proof`, '--log-key', join(keys, 'log.vkey')],
      ...['--signer-key', join(keys, 'signer.pem')],
    ]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/log-inclusion: receipt is entry 0 of 1/);
    const listed = oacpBinary(['--home', home, 'log', 'list']);
    expect(listed.stdout).toMatch(/\(run\) +allow: exit 3 +hardened .* ok/);
  });

  it('records nothing with --no-receipt, and needs no home for it', async () => {
    const home = initHome();
    const result = oacpBinary(['--home', home, 'run', '--no-receipt', '--', '/bin/echo', 'ran']);
    expect(result).toMatchObject({ code: 0, stdout: 'ran\n' });
    expect(await executionReceipts(home)).toEqual([]);
    const homeless = oacpBinary([
      '--home',
      join(scratch, 'none'),
      'run',
      '--no-receipt',
      '--',
      '/bin/echo',
      'ran',
    ]);
    expect(homeless).toMatchObject({ code: 0, stdout: 'ran\n' });
  });

  it('refuses to run without a home to sign with, naming oacp init and --no-receipt, and runs nothing', () => {
    const none = join(scratch, 'not-a-home');
    const result = oacpBinary(['--home', none, 'run', '--', '/bin/echo', 'ran']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^oacp: .*receipt.*oacp init.*--no-receipt/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(none)).toBe(false);
    const both = oacpBinary(['--home', none, 'run', '--receipt', '--no-receipt', '--', '/bin/true']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--receipt and --no-receipt contradict/);
    const help = oacpBinary(['run', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/one signed receipt .* --no-receipt/);
    expect(help).toMatch(/--no-receipt run without a receipt \(no OACP home needed\)/);
  });

  it('records a run killed at its CPU quota as killed, naming the quota', async () => {
    const home = initHome();
    const result = oacpBinary([
      '--home',
      home,
      'run',
      '--quota-cpu',
      '300ms',
      '--',
      '/bin/sh',
      '-c',
      'while :; do :; done',
    ]);
    expect(result.code).not.toBe(0);
    const [receipt, ...more] = await executionReceipts(home);
    expect(more).toEqual([]);
    expect(receipt).toMatchObject({
      outcome: 'killed',
      exit: { killedBy: 'cpu' },
      limits: { cpuMsTotal: 300 },
    });
    expect(receipt?.reason).toMatch(/--quota-cpu/);
  });

  it('records a standard-tier agent stopped at its CPU quota as killed', async () => {
    const home = initHome();
    const agent = join(scratch, 'loop.js');
    writeFileSync(agent, 'while (true) {}');
    const result = oacpBinary(['--home', home, 'run', agent, '--quota-cpu', '200ms']);
    expect(result.code).toBe(1);
    expect(await executionReceipts(home)).toEqual([
      expect.objectContaining({
        tier: 'standard',
        outcome: 'killed',
        exit: expect.objectContaining({ killedBy: 'WASM_CPU_LIMIT' }),
      }),
    ]);
  });

  it('records a start refused for a grant, and one refused for a tier the host lacks, each once', async () => {
    const home = initHome();
    const grant = oacpBinary(['--home', home, 'run', '--allow-files', home, '--', '/bin/true']);
    expect(grant.code).toBe(1);
    expect(grant.stderr).toContain('AIRLOCK_BAD_SPEC');
    const tee = oacpBinary(['--home', home, 'run', '--tier', 'tee', '--', '/bin/true']);
    expect(tee.code).toBe(1);
    expect(tee.stderr).toContain('AIRLOCK_TIER_UNAVAILABLE');
    const [byGrant, byTier, ...more] = await executionReceipts(home);
    expect(more).toEqual([]);
    expect(byGrant).toMatchObject({
      outcome: 'refused',
      tier: 'hardened',
      exit: { code: null, signal: null },
    });
    expect(byGrant?.reason).toMatch(/^AIRLOCK_BAD_SPEC: grant .* overlaps the OACP home/);
    expect(byTier).toMatchObject({ outcome: 'refused', tier: 'tee', assurance: 'software' });
    expect(byTier?.tee).toBeUndefined();
    expect(oacpBinary(['--home', home, 'log', 'list']).stdout).toMatch(/deny: refused: AIRLOCK_BAD_SPEC/);
  });

  it('keeps its receipt when the workload signals everything it can see (its parent, pid 1, -1)', async () => {
    const home = initHome();
    const attack = 'kill -9 $PPID 1 -1 2>/dev/null; kill -TERM -1 2>/dev/null; echo survived; exit 0';
    const result = oacpBinary(['--home', home, 'run', '--', '/bin/sh', '-c', attack]);
    expect(result).toMatchObject({ code: 0, stdout: 'survived\n' });
    expect(result.stderr).toMatch(/execution receipt 0 in log/);
    expect(await executionReceipts(home)).toEqual([
      expect.objectContaining({ outcome: 'exited', exit: { code: 0, signal: null } }),
    ]);
  });

  it('stops the workload on SIGINT and still records the run, as interrupted', async () => {
    const home = initHome();
    const run = whileRunning(home, 'echo up; exec sleep 60', (child) => child.kill('SIGINT'));
    const { code, stderr } = await run;
    expect(code).toBe(130);
    expect(stderr).toMatch(/execution receipt 0 in log/);
    expect(await executionReceipts(home)).toEqual([
      expect.objectContaining({ outcome: 'interrupted', reason: expect.stringMatching(/SIGINT/) }),
    ]);
  });

  it.runIf(isRoot)(
    'refuses a start with no room for its receipt, and fails (never claims success) when the workload fills that disk',
    async () => {
      const disk = join(scratch, 'small-disk');
      mkdirSync(disk);
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', disk]);
      expect(mount.status).toBe(0);
      try {
        const home = join(disk, 'home');
        expect(oacpBinary(['--home', home, 'init']).code).toBe(0);
        // Under 1 MiB free before the start: refused (nothing runs), and the refusal, a few KiB, still recorded.
        writeFileSync(join(disk, 'pad'), Buffer.alloc(2560 * 1024));
        const cramped = oacpBinary(['--home', home, 'run', '--', '/bin/echo', 'ran']);
        expect(cramped).toMatchObject({ code: 1, stdout: '' });
        expect(cramped.stderr).toMatch(/MCP_RECEIPT_UNAVAILABLE: .*bytes free/);
        expect(await executionReceipts(home)).toEqual([
          expect.objectContaining({
            outcome: 'refused',
            reason: expect.stringMatching(/^MCP_RECEIPT_UNAVAILABLE/),
          }),
        ]);
        rmSync(join(disk, 'pad'));
        const data = join(disk, 'data');
        mkdirSync(data);
        const fill = `cat /dev/zero > ${data}/x; echo filled; exit 0`;
        const args = [
          '--allow-unenforced',
          'disk_io',
          '--allow-files',
          `${data}:rw`,
          '--',
          '/bin/sh',
          '-c',
          fill,
        ];
        const result = oacpBinary(['--home', home, 'run', ...args]);
        expect(result.stdout).toBe('filled\n');
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/ENOSPC|could not be recorded/);
        // A later run on the full disk is refused before it starts.
        const next = oacpBinary(['--home', home, 'run', '--', '/bin/echo', 'ran']);
        expect(next.code).not.toBe(0);
        expect(next.stdout).toBe('');
        expect(next.stderr).toMatch(/--no-receipt/);
      } finally {
        spawnSync('umount', [disk]);
      }
    },
  );

  it.runIf(isRoot)(
    'exits 1, saying no receipt vouches for the run, when the log refuses the write',
    async () => {
      const home = initHome();
      expect(oacpBinary(['--home', home, 'run', '--', '/bin/true']).code).toBe(0);
      const wal = join(home, 'log', 'log.wal');
      // From outside, while the workload runs: the log's file becomes unwritable (EPERM), as a failing disk would.
      let locked = false;
      const run = whileRunning(home, 'echo up; sleep 1', () => {
        locked = spawnSync('chattr', ['+i', wal]).status === 0;
      });
      try {
        const { code, stderr } = await run;
        expect(locked).toBe(true);
        expect(code).toBe(1);
        expect(stderr).toMatch(
          /the workload ran \(exit 0\), but its receipt could not be recorded \(.*\); no receipt vouches/,
        );
      } finally {
        spawnSync('chattr', ['-i', wal]);
      }
      expect(await executionReceipts(home)).toHaveLength(1);
    },
  );

  it.runIf(isRoot)("records the runs of a regular user (uid 1000) in that user's home", async () => {
    const userHome = uid1000Home(scratch);
    const asUser = (args: string[]) => oacpAsUid1000(args, userHome);
    expect(asUser(['init']).code).toBe(0);
    // cgroup v1 is root-only here: the start without the opt-out is refused, and that refusal is recorded too.
    const refused = asUser(['run', '--', '/bin/echo', 'ran']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    const ran = asUser(['run', '--allow-unenforced', 'memory,pids,cpu,disk_io', '--', '/bin/echo', 'ran']);
    expect(ran.stdout).toBe('ran\n');
    expect(ran.code).toBe(0);
    // Root does not open uid 1000's home, even to read (docs/keys.md): it reads a copy of its own.
    const copy = join(scratch, 'user-home-copy');
    cpSync(join(userHome, '.oacp'), copy, { recursive: true });
    const [first, records] = await executionReceipts(copy);
    expect(first).toMatchObject({
      outcome: 'refused',
      reason: expect.stringMatching(/AIRLOCK_LIMIT_UNENFORCED/),
    });
    expect(records).toMatchObject({
      outcome: 'exited',
      exit: { code: 0 },
      limits: { unenforced: ['memory', 'pids', 'cpu', 'disk_io'] },
    });
    const none = asUser(['--home', join(userHome, 'none'), 'run', '--', '/bin/echo', 'ran']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/oacp init.*--no-receipt/);
  });
});
