import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import type { REGULAR_USER } from '../escape/confine-harness.js';

/**
 * The set-up the kill -9 tests share: the real `oacp` binary run as the invoker or as uid 1000 on a
 * scratch home, a bridge driven by a raw line client, and a receipt exported and verified offline.
 */
export type User = typeof REGULAR_USER | undefined;

export const MAIN = resolve('dist/cli/main.js');

export interface Listed {
  readonly index: number;
  readonly tool?: string;
  readonly outcome?: string;
}

/**
 * The command line that runs `oacp ARGS` as `user` (setpriv, no groups; HOME the scratch folder it
 * owns). A regular user on this cgroup v1 host cannot use the controllers, so its `run`s opt out of
 * them by name (docs/resources.md): these tests are about receipts, not limits.
 */
export function asUser(user: User, home: string, args: readonly string[]): { file: string; argv: string[] } {
  const runAt = args[0] === 'run' ? 1 : args[0] === 'mcp' && args[1] === 'run' ? 2 : -1;
  const optOut =
    user === undefined || runAt === -1
      ? [...args]
      : [...args.slice(0, runAt), '--allow-unenforced', 'memory,pids,cpu,disk_io', ...args.slice(runAt)];
  const oacpArgs = [MAIN, '--home', home, ...optOut];
  if (user === undefined) return { file: process.execPath, argv: oacpArgs };
  return {
    file: '/usr/bin/setpriv',
    argv: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', process.execPath, ...oacpArgs],
  };
}

export function userEnv(user: User, home: string): NodeJS.ProcessEnv {
  return user === undefined ? process.env : { PATH: '/usr/bin:/bin', HOME: join(home, '..') };
}

/** `oacp ARGS` on `home`, to its end. */
export function oacp(
  home: string,
  args: readonly string[],
  user?: User,
): { status: number | null; stdout: string; stderr: string } {
  const { file, argv } = asUser(user, home, args);
  const run = spawnSync(file, argv, { encoding: 'utf8', timeout: 60_000, env: userEnv(user, home) });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Hands the scratch folder (and what is in it) to `user`, so its oacp owns its home. */
export function giveTo(user: User, path: string): void {
  if (user === undefined) return;
  chownSync(path, user.uid, user.gid);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) giveTo(user, join(path, name));
}

export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

/**
 * A fresh scratch folder (pushed on `dirs` for the caller's cleanup) with an initialised home and a work
 * folder holding `server` as server.mjs when given, all owned by `user`.
 */
export function scratch(
  dirs: string[],
  prefix: string,
  user: User,
  server?: string,
): { dir: string; home: string; work: string; user: User } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  const home = join(dir, 'home');
  const work = join(dir, 'work');
  spawnSync('mkdir', ['-p', work]);
  if (server !== undefined) writeFileSync(join(work, 'server.mjs'), server);
  giveTo(user, dir);
  expect(oacp(home, ['init'], user).status).toBe(0);
  return { dir, home, work, user };
}

export interface LineBridge {
  readonly process: ChildProcess;
  stdout(): string;
  send(message: unknown): void;
}

/** `oacp ARGS` (an `mcp run`) driven by a raw line client, answered its initialize. */
export async function startBridge(
  home: string,
  user: User,
  args: readonly string[],
  client: { readonly name: string; readonly capabilities?: Record<string, unknown> },
): Promise<LineBridge> {
  const { file, argv } = asUser(user, home, args);
  const bridge = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: userEnv(user, home) });
  let stdout = '';
  let stderr = '';
  bridge.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  bridge.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const send = (message: unknown) => void bridge.stdin?.write(`${JSON.stringify(message)}\n`);
  try {
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: client.capabilities ?? {},
        clientInfo: { name: client.name, version: '1' },
      },
    });
    await until(() => stdout.includes('"id":1'), `initialize to be answered (bridge said: ${stderr})`);
  } catch (error) {
    bridge.kill('SIGKILL');
    throw error;
  }
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return { process: bridge, stdout: () => stdout, send };
}

/** Kills `child` with SIGKILL and waits for it to be gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
}

/**
 * Exports log entry `index` with its inclusion proof and verifies it offline against the home's
 * exported keys, as a third party would; returns the receipt's predicate.
 */
export function exportAndVerify(
  place: { dir: string; home: string; user: User },
  index: number | undefined,
): Record<string, unknown> {
  const { dir, home, user } = place;
  const out = join(dir, `export-${String(index)}`);
  expect(oacp(home, ['log', 'export', String(index), '--out', out], user).status).toBe(0);
  const keys = join(dir, 'public');
  expect(oacp(home, ['keys', 'export', '--out', keys], user).status).toBe(0);
  const receipt = join(out, 'receipt.json');
  const verified = oacp(
    home,
    [
      'verify',
      receipt,
      ...['--proof', `${receipt}.tlog-proof`, '--log-key', join(keys, 'log.vkey')],
      ...['--signer-key', join(keys, 'signer.pem')],
    ],
    user,
  );
  expect(verified.status, verified.stdout + verified.stderr).toBe(0);
  const envelope = JSON.parse(readFileSync(receipt, 'utf8')) as { payload: string };
  return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')).predicate;
}
