import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { withLogState } from '../log-state.js';
import { type CliResult, oacp } from './harness.js';

/**
 * Issue 9, item 7 (every refusal names the flag that lifts it): under `oacp run --tier gvisor
 * --quota-cpu 500ms`, a start that spent more than gVisor's start-up allowance was killed with
 * "raise with quotas.startup_cpu_ms", a field `--quota-cpu` overrides and no flag set, so nothing
 * the message named could lift it. `--quota-startup-cpu` (oacp run and oacp mcp run alike) does,
 * and the message names it.
 */
const PYTHON = '/usr/bin/python3';
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
/** The built binary as a real process: the workload writes to the process's own stdout. */
const oacpProcess = (args: readonly string[]): Promise<CliResult> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: withLogState({ PATH: '/usr/bin:/bin' }), timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: typeof error?.code === 'number' ? error.code : error ? 1 : 0, stdout, stderr }),
    );
  });
const gvisor = (await new GvisorTier().availability()).available;
// Four seconds of CPU in one busy stretch: over gVisor's 2 s start-up allowance, under 30 s.
const SPIN = 'import time\nt = time.process_time()\nwhile time.process_time() - t < 4: pass\nprint("spun")';

describe.skipIf(!gvisor || !existsSync(PYTHON))('gVisor start-up CPU under oacp run --quota-cpu', () => {
  it('names --quota-startup-cpu when the start is killed, and that flag lifts the limit', async () => {
    const killed = await oacpProcess([
      'run',
      '--no-receipt',
      '--tier',
      'gvisor',
      '--quota-cpu',
      '500ms',
      '--',
      PYTHON,
      '-c',
      SPIN,
    ]);
    expect(killed.code).not.toBe(0);
    expect(killed.stdout).not.toContain('spun');
    expect(killed.stderr).toMatch(
      /while starting .*raise with --quota-startup-cpu or quotas\.startup_cpu_ms/,
    );

    const lifted = await oacpProcess([
      'run',
      '--no-receipt',
      '--tier',
      'gvisor',
      '--quota-cpu',
      '500ms',
      '--quota-startup-cpu',
      '30s',
      '--',
      PYTHON,
      '-c',
      SPIN,
    ]);
    expect(lifted.stderr).toBe('');
    expect(lifted.stdout).toContain('spun');
    expect(lifted.code).toBe(0);
  }, 120_000);

  it('refuses a bad --quota-startup-cpu by name, in oacp run and oacp mcp run', async () => {
    const run = await oacp(['run', '--no-receipt', '--quota-startup-cpu', 'soon', '--', '/bin/true']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--quota-startup-cpu soon: must be a duration');
    const mcp = await oacp(['mcp', 'run', '--quota-startup-cpu', 'soon', '--', '/bin/true']);
    expect(mcp.code).toBe(2);
    expect(mcp.stderr).toBe(run.stderr);
  });
});
