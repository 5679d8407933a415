import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { withLogState } from '../log-state.js';
import { scratchDir } from '../scratch-dirs.js';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
export const isRoot = process.getuid?.() === 0;
/** The unprivileged account the most important attacks are repeated as when the suite runs as root. */
export const REGULAR_USER = { uid: 1000, gid: 1000 };
/** Who an attack runs as: the invoker, and the regular user too when the suite runs as root. */
export const ATTACKERS: readonly (typeof REGULAR_USER | undefined)[] = isRoot
  ? [undefined, REGULAR_USER]
  : [undefined];
/** How a test names who it runs as. */
export const who = (user: typeof REGULAR_USER | undefined): string =>
  user === undefined ? 'as the invoker' : 'as uid 1000';

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built `oacp` binary as a real process: optionally as a regular
 * user (setpriv, no groups) and with extra descriptors open at given numbers,
 * as an attacker who controls the operator's shell would.
 */
export function oacpCli(
  args: readonly string[],
  options: {
    readonly env?: NodeJS.ProcessEnv;
    readonly asUser?: { uid: number; gid: number };
    readonly fds?: Readonly<Record<number, number>>;
    /** Keeps stdin open until the output matches (at most 60 s): a bridge ends when its client's stdin closes. */
    readonly holdStdinUntil?: RegExp;
    /** A command the whole run is started under (as the invoker), e.g. `unshare -m ...`; it execs the rest. */
    readonly within?: readonly string[];
  } = {},
): Promise<CliRun> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const highest = Math.max(2, ...Object.keys(options.fds ?? {}).map(Number));
  const stdio: (number | 'pipe' | 'ignore')[] = ['pipe', 'pipe', 'pipe'];
  for (let fd = 3; fd <= highest; fd++) stdio.push(options.fds?.[fd] ?? 'ignore');
  const command =
    options.asUser === undefined
      ? [process.execPath, CLI]
      : [
          '/usr/bin/setpriv',
          `--reuid=${options.asUser.uid}`,
          `--regid=${options.asUser.gid}`,
          '--clear-groups',
          process.execPath,
          CLI,
        ];
  const [file = process.execPath, ...rest] = [...(options.within ?? []), ...command];
  const child = spawn(file, [...rest, ...withoutReceipt(withOptOut(args, options.asUser !== undefined))], {
    // As root, the test file's own signed-state directory; a regular user's default is its own home.
    env: (options.asUser === undefined ? withLogState : (env: NodeJS.ProcessEnv) => env)({
      PATH: '/usr/bin:/bin',
      ...options.env,
    }),
    stdio,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const until = options.holdStdinUntil;
  if (until === undefined) child.stdin?.end();
  else {
    const timer = setTimeout(() => child.stdin?.end(), 60_000);
    const check = () => {
      if (!until.test(stdout + stderr)) return;
      clearTimeout(timer);
      child.stdin?.end();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
  }
  return new Promise((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A regular user cannot use this host's cgroup v1 controllers, so OACP refuses
 * limits it cannot enforce for them unless told by name (docs/resources.md):
 * the attacks below are about confinement, so they opt out, and would
 * otherwise pass for the wrong reason (a sandbox that never started).
 */
function withOptOut(args: readonly string[], regularUser: boolean): readonly string[] {
  if (!regularUser) return args;
  const at = args[0] === 'run' ? 1 : args[0] === 'mcp' && args[1] === 'run' ? 2 : -1;
  if (at === -1) return args;
  return [...args.slice(0, at), '--allow-unenforced', 'memory,pids,cpu,disk_io', ...args.slice(at)];
}

/**
 * `oacp run` refuses to start without an initialised home to sign its receipt
 * with (docs/receipts.md); these attacks run against homes `oacp init` never
 * made (or made only in part), so they run without a receipt, by name, and
 * cannot pass for the wrong reason (a run refused for its missing home).
 * A test that passes `--receipt` or `--no-receipt` itself is left as it is.
 */
function withoutReceipt(args: readonly string[]): readonly string[] {
  const end = args.indexOf('--');
  const at = args.findIndex((arg, i) => arg === 'run' && args[i - 1] !== 'mcp' && (end === -1 || i < end));
  const given = args.slice(0, end === -1 ? args.length : end);
  if (at === -1 || given.includes('--receipt') || given.includes('--no-receipt')) return args;
  return [...args.slice(0, at + 1), '--no-receipt', ...args.slice(at + 1)];
}

/** A fresh world-traversable directory (the regular user must reach what the test prepares). */
export function openDir(prefix: string): string {
  const dir = scratchDir(prefix);
  chmodSync(dir, 0o755);
  return dir;
}

/** A home for the attacked operator: ~/bin/cat and ~/.oacp/master.key, owned by `owner`. */
export function operatorHome(root: string): { home: string; cat: string; masterKey: string } {
  const home = join(root, 'home');
  mkdirSync(join(home, 'bin'), { recursive: true });
  mkdirSync(join(home, '.oacp', 'keys'), { recursive: true });
  return { home, cat: join(home, 'bin', 'cat'), masterKey: join(home, '.oacp', 'master.key') };
}

/** Whether `uid` has an /etc/passwd entry (getent): the tests of a uid with none pick one that has not. */
export function uidListed(uid: number): boolean {
  try {
    execFileSync('getent', ['passwd', String(uid)]);
    return true;
  } catch {
    return false;
  }
}
