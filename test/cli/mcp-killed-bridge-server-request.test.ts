import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ATTACKERS, type REGULAR_USER, who } from '../escape/confine-harness.js';

type User = typeof REGULAR_USER | undefined;

/**
 * A server's request the bridge passed to the client (sampling/createMessage: the client asks its
 * model) is an effect as a tools/call is: policed, and recorded when the client answers. A bridge
 * killed with SIGKILL while the client holds the request must still leave it a receipt, from its
 * intent, recorded once by the next oacp process on the home (test/cli/mcp-killed-bridge.test.ts
 * does the same for a tools/call).
 */
const MAIN = resolve('dist/cli/main.js');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const SERVER = `
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize') send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'asker', version: '1' } } });
  else if (m.method === 'tools/list') send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'ask', inputSchema: { type: 'object' } }] } });
  // The server asks the client's model; the bridge is killed before the client answers.
  else if (m.method === 'tools/call') send({ jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'sample-me' } }], maxTokens: 5 } });
});
`;

function asUser(user: User, home: string, args: readonly string[]): { file: string; argv: string[] } {
  const runAt = args[0] === 'mcp' && args[1] === 'run' ? 2 : -1;
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

const userEnv = (user: User, home: string): NodeJS.ProcessEnv =>
  user === undefined ? process.env : { PATH: '/usr/bin:/bin', HOME: join(home, '..') };

function oacp(
  home: string,
  args: string[],
  user: User,
): { status: number | null; stdout: string; stderr: string } {
  const { file, argv } = asUser(user, home, args);
  const run = spawnSync(file, argv, { encoding: 'utf8', timeout: 60_000, env: userEnv(user, home) });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function giveTo(user: User, path: string): void {
  if (user === undefined) return;
  chownSync(path, user.uid, user.gid);
  if (statSync(path).isDirectory()) for (const name of readdirSync(path)) giveTo(user, join(path, name));
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

interface Listed {
  readonly index: number;
  readonly tool?: string;
  readonly outcome?: string;
}

describe('a bridge killed with SIGKILL while the client holds a request of the server', () => {
  for (const user of ATTACKERS) {
    it(`attack ${who(user)}: the sampling request passed to the client gets one receipt, outcome interrupted, as does the call it came from`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'oacp-killed-ask-'));
      dirs.push(dir);
      const home = join(dir, 'home');
      const work = join(dir, 'work');
      spawnSync('mkdir', ['-p', work]);
      writeFileSync(join(work, 'server.mjs'), SERVER);
      giveTo(user, dir);
      expect(oacp(home, ['init'], user).status).toBe(0);
      const { file, argv } = asUser(user, home, [
        'mcp',
        'run',
        '--',
        process.execPath,
        join(work, 'server.mjs'),
      ]);
      const bridge: ChildProcess = spawn(file, argv, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: userEnv(user, home),
      });
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
            capabilities: { sampling: {} },
            clientInfo: { name: 'asked', version: '1' },
          },
        });
        await until(() => stdout.includes('"id":1'), `initialize to be answered (bridge said: ${stderr})`);
        send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ask', arguments: {} } });
        await until(
          () => stdout.includes('sample-me'),
          `the sampling request to reach the client (${stderr})`,
        );
        const exited = new Promise((done) => bridge.once('exit', done));
        bridge.kill('SIGKILL');
        await exited;

        const listed = oacp(home, ['log', 'list', '--json'], user);
        expect(listed.status, listed.stderr).toBe(0);
        expect(listed.stderr).toContain('recorded 2 receipt(s) with outcome "interrupted"');
        const entries = (JSON.parse(listed.stdout) as { entries: Listed[] }).entries;
        expect(entries.filter((e) => e.tool === 'server-request:sampling/createMessage')).toHaveLength(1);
        expect(entries.filter((e) => e.tool === 'ask')).toHaveLength(1);
        // Once: the next reader records nothing more.
        const again = oacp(home, ['log', 'list', '--json'], user);
        expect(again.stderr).not.toContain('interrupted');
        expect((JSON.parse(again.stdout) as { entries: Listed[] }).entries).toHaveLength(entries.length);
        // A receipt like any other: it verifies offline with its inclusion proof.
        const asked = entries.find((e) => e.tool === 'server-request:sampling/createMessage');
        const out = join(dir, 'export');
        expect(oacp(home, ['log', 'export', String(asked?.index), '--out', out], user).status).toBe(0);
        const keys = join(dir, 'public');
        expect(oacp(home, ['keys', 'export', '--out', keys], user).status).toBe(0);
        const receipt = join(out, 'receipt.json');
        const envelope = JSON.parse(readFileSync(receipt, 'utf8')) as { payload: string };
        const { predicate } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
        expect(predicate).toMatchObject({
          tool: { name: 'server-request:sampling/createMessage' },
          outcome: 'interrupted',
          forwarded: true,
          policy: { effect: 'allow' },
        });
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
      } finally {
        bridge.kill('SIGKILL');
      }
    });
  }
});
