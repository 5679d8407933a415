import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { registrars } from '../../src/cli/commands/index.js';
import type { Output } from '../../src/cli/io.js';
import { buildProgram, createContext, runProgram } from '../../src/cli/program.js';
import { withLogState } from '../log-state.js';
import { scratchDir } from '../scratch-dirs.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `oacp ARGS` in-process with captured output: fast, and the same code path as the binary. */
export async function oacp(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const context = createContext(output, withLogState(env));
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    const code = await runProgram(buildProgram(context, registrars), args, context.output);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    process.exitCode = saved;
  }
}

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

/** Runs the built binary as a real process (npm test builds dist first). */
export function oacpBinary(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliResult {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: withLogState({ PATH: process.env.PATH, ...env }),
    timeout: 60_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the built binary as uid 1000 (no groups) with `home` as HOME: the regular-user side of a test run as root. */
export function oacpAsUid1000(args: readonly string[], home: string, env: NodeJS.ProcessEnv = {}): CliResult {
  const result = spawnSync(
    '/usr/bin/setpriv',
    ['--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, BIN, ...args],
    { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: home, ...env }, timeout: 60_000 },
  );
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Removed after the test file (scratch-dirs.ts) if the test does not remove it itself. */
export function tempDir(prefix = 'oacp-test-'): string {
  return scratchDir(prefix);
}

/**
 * A HOME for uid 1000 made inside `dir` and owned by it; `dir` gets search permission for
 * others (a `tempDir` is 0700), so uid 1000 can reach the home through it.
 */
export function uid1000Home(dir: string): string {
  chmodSync(dir, statSync(dir).mode | 0o111);
  const home = join(dir, 'home1000');
  mkdirSync(home);
  chownSync(home, 1000, 1000);
  return home;
}

/**
 * `oacp run` in the hardened tier without a receipt, as uid 1000 runs it on this cgroup v1 host:
 * the controllers a regular user cannot use are opted out of by name (docs/resources.md).
 */
export const HARDENED_RUN_AS_UID1000 = [
  'run',
  '--no-receipt',
  '--tier',
  'hardened',
  '--allow-unenforced',
  'memory,pids,cpu',
] as const;
