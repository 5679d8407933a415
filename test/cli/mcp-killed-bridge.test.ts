import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { ATTACKERS, type REGULAR_USER, who } from '../escape/confine-harness.js';

type User = typeof REGULAR_USER | undefined;

/**
 * Every side effect has a receipt, even when OACP itself is killed: a tools/call the server
 * received (and acted on) while the bridge was killed with SIGKILL gets a receipt with outcome
 * `interrupted`, recorded from the call's intent by the next oacp process on the home. The
 * attack on the real CLI: a real bridge over a real server in the hardened tier, a real kill.
 */
const MAIN = resolve('dist/cli/main.js');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const SERVER = `
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const effect = process.argv[2];
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'effects', version: '1' } } });
  else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'touch', inputSchema: { type: 'object' } }] } });
  // The side effect happens, and the answer never comes: the bridge is killed meanwhile.
  else if (m.method === 'tools/call') appendFileSync(effect, JSON.stringify(m.params.arguments) + '\\n');
});
`;

/**
 * The command line that runs `oacp ARGS` as `user` (setpriv, no groups; HOME the scratch folder it
 * owns). A regular user on this cgroup v1 host cannot use the controllers, so its `run`s opt out of
 * them by name (docs/resources.md): these tests are about receipts, not limits.
 */
function asUser(user: User, home: string, args: readonly string[]): { file: string; argv: string[] } {
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

function userEnv(user: User, home: string): NodeJS.ProcessEnv {
  return user === undefined ? process.env : { PATH: '/usr/bin:/bin', HOME: join(home, '..') };
}

function oacp(
  home: string,
  args: string[],
  user?: User,
): { status: number | null; stdout: string; stderr: string } {
  const { file, argv } = asUser(user, home, args);
  const run = spawnSync(file, argv, { encoding: 'utf8', timeout: 60_000, env: userEnv(user, home) });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Hands the scratch folder (and what is in it) to `user`, so its oacp owns its home. */
function giveTo(user: User, dir: string): void {
  if (user === undefined) return;
  const walk = (path: string): void => {
    chownSync(path, user.uid, user.gid);
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

/** A fresh home (initialised) and a work folder holding the server, for one test. */
function scratch(
  prefix: string,
  user?: User,
): { dir: string; home: string; work: string; effect: string; user: User } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  const home = join(dir, 'home');
  const work = join(dir, 'work');
  spawnSync('mkdir', ['-p', work]);
  writeFileSync(join(work, 'server.mjs'), SERVER);
  giveTo(user, dir);
  expect(oacp(home, ['init'], user).status).toBe(0);
  return { dir, home, work, effect: join(work, 'effect.jsonl'), user };
}

/** `oacp mcp run` (hardened, the work folder granted) over the server, initialized by a raw client. */
async function startBridge(
  { home, work, effect, user }: { home: string; work: string; effect: string; user: User },
  client: string,
): Promise<{ process: ChildProcess; stdout(): string; send(message: unknown): void }> {
  const { file, argv } = asUser(user, home, [
    'mcp',
    'run',
    '--allow-files',
    `${work}:rw`,
    '--',
    process.execPath,
    join(work, 'server.mjs'),
    effect,
  ]);
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
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: client, version: '1' } },
    });
    await until(() => stdout.includes('"id":1'), `initialize to be answered (bridge said: ${stderr})`);
  } catch (error) {
    bridge.kill('SIGKILL');
    throw error;
  }
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return { process: bridge, stdout: () => stdout, send };
}

interface Listed {
  readonly index: number;
  readonly tool?: string;
  readonly outcome?: string;
}

describe('a bridge killed with SIGKILL while the server has a call', () => {
  for (const user of ATTACKERS) {
    it(`attack ${who(user)}: the call the server acted on gets one receipt, outcome interrupted and forwarded, with the digest of what it was sent`, async () => {
      const place = scratch('oacp-killed-bridge-', user);
      const { dir, home, effect } = place;
      const bridge = await startBridge(place, 'killer');
      const { send } = bridge;
      try {
        const args = { marker: 'acted-on', n: [1, 2] };
        send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'touch', arguments: args } });
        await until(
          () => existsSync(effect) && readFileSync(effect, 'utf8').includes('acted-on'),
          'the side effect',
        );
        const exited = new Promise((done) => bridge.process.once('exit', done));
        bridge.process.kill('SIGKILL');
        await exited;
        expect(bridge.stdout()).not.toContain('"id":2');

        // Reading the log records what the killed bridge left, before listing.
        const listed = oacp(home, ['log', 'list', '--json'], user);
        expect(listed.status).toBe(0);
        expect(listed.stderr).toContain('recorded 1 receipt(s) with outcome "interrupted"');
        const entries = (JSON.parse(listed.stdout) as { entries: Listed[] }).entries.filter(
          (e) => e.tool === 'touch',
        );
        expect(entries).toHaveLength(1);
        const out = join(dir, 'export');
        expect(oacp(home, ['log', 'export', String(entries[0]?.index), '--out', out], user).status).toBe(0);
        const envelope = JSON.parse(readFileSync(join(out, 'receipt.json'), 'utf8')) as { payload: string };
        const { predicate } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
        expect(predicate).toMatchObject({
          outcome: 'interrupted',
          forwarded: true,
          argumentsDigest: jcsDigest(args),
          policy: { effect: 'allow' },
        });
        // A receipt like any other: it verifies offline with its inclusion proof.
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
        expect(verified.status, verified.stdout).toBe(0);
        // Once: the next reader records nothing more.
        const again = oacp(home, ['log', 'list', '--json'], user);
        expect(again.stderr).not.toContain('interrupted');
        expect(
          (JSON.parse(again.stdout) as { entries: Listed[] }).entries.filter((e) => e.tool === 'touch'),
        ).toHaveLength(1);
      } finally {
        bridge.process.kill('SIGKILL');
      }
    });
  }

  for (const user of ATTACKERS) {
    it(`attack ${who(user)}: oacp run killed with SIGKILL while its workload runs: the run gets one receipt, outcome interrupted`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'oacp-killed-run-'));
      dirs.push(dir);
      const home = join(dir, 'home');
      const work = join(dir, 'work');
      spawnSync('mkdir', ['-p', work]);
      giveTo(user, dir);
      const started = join(work, 'started');
      expect(oacp(home, ['init'], user).status).toBe(0);
      const { file, argv } = asUser(user, home, [
        'run',
        '--allow-files',
        `${work}:rw`,
        '--',
        '/bin/sh',
        '-c',
        `echo yes > ${started}; sleep 60`,
      ]);
      const run = spawn(file, argv, { stdio: 'ignore', env: userEnv(user, home) });
      try {
        await until(() => existsSync(started), 'the workload to start');
        const exited = new Promise((done) => run.once('exit', done));
        run.kill('SIGKILL');
        await exited;
        const listed = oacp(home, ['log', 'list', '--json'], user);
        expect(listed.status, listed.stderr).toBe(0);
        const entries = (JSON.parse(listed.stdout) as { entries: Array<Record<string, unknown>> }).entries;
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({ kind: 'execution', tier: 'hardened' });
        expect(String(entries[0]?.reason)).toContain('oacp ended (killed) while the workload ran');
      } finally {
        run.kill('SIGKILL');
      }
    });
  }

  it('attack: oacp run of a JavaScript agent (standard tier) killed with SIGKILL while the guest runs: one receipt, outcome interrupted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-killed-agent-'));
    dirs.push(dir);
    const home = join(dir, 'home');
    const agent = join(dir, 'loop.js');
    writeFileSync(agent, 'while (true) {}');
    expect(oacp(home, ['init']).status).toBe(0);
    const run = spawn(process.execPath, [MAIN, '--home', home, 'run', agent, '--quota-cpu', '60s'], {
      stdio: 'ignore',
    });
    try {
      // The intent is written right before the guest starts.
      const intents = join(home, 'intents');
      await until(
        () =>
          existsSync(intents) && readdirSync(intents).some((name) => statSync(join(intents, name)).size > 0),
        "the run's intent",
      );
      const exited = new Promise((done) => run.once('exit', done));
      run.kill('SIGKILL');
      await exited;
      const listed = oacp(home, ['log', 'list', '--json']);
      expect(listed.status).toBe(0);
      const entries = (JSON.parse(listed.stdout) as { entries: Array<Record<string, unknown>> }).entries;
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ kind: 'execution', tier: 'standard' });
      expect(String(entries[0]?.reason)).toContain('oacp ended (killed) while the workload ran');
    } finally {
      run.kill('SIGKILL');
    }
  });

  it('refusal: where no intent can be kept (the journal cannot be created), the call is refused before the server gets it, with a receipt saying why', async () => {
    const place = scratch('oacp-no-intents-');
    // A file where the journal's directory should be: no journal can be created in it.
    writeFileSync(join(place.home, 'intents'), '');
    const bridge = await startBridge(place, 'c');
    const { send } = bridge;
    const { effect } = place;
    try {
      send({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'touch', arguments: { marker: 'never' } },
      });
      await until(() => bridge.stdout().includes('"id":2'), 'the call to be answered');
      const answer =
        bridge
          .stdout()
          .split('\n')
          .find((line) => line.includes('"id":2')) ?? '';
      // Denied before the server had it, answered as a denial carrying its receipt, naming the cause.
      expect(answer).toContain('could not be secured against a crash, so the call is refused');
      expect(answer).toContain('cannot create the intent journal');
      expect(answer).toContain('oacp/receipt');
      expect(existsSync(effect)).toBe(false);
    } finally {
      bridge.process.kill('SIGKILL');
    }
  });
});
