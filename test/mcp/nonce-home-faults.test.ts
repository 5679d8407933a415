import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { signRequest } from '../../src/identity/signed-request.js';
import { AGENT_REQUEST_META, toolCallPayload, toolCallPurpose } from '../../src/mcp/principal.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { INITIALIZE, RAW_SERVER } from './raw-harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const AHEAD_MS = 10 * 60_000;

/** Writes lines to a bridge's stdin and collects the answers it writes by id. */
function lineClient(child: ChildProcessWithoutNullStreams) {
  const answers = new Map<unknown, Record<string, unknown>>();
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      const message = JSON.parse(part) as Record<string, unknown>;
      if (message.id !== undefined && message.method === undefined) answers.set(message.id, message);
    }
  });
  return async (message: Record<string, unknown>): Promise<string> => {
    child.stdin.write(`${JSON.stringify(message)}\n`);
    const deadline = Date.now() + 20_000;
    while (!answers.has(message.id)) {
      if (Date.now() > deadline) throw new Error(`no answer to ${String(message.id)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return JSON.stringify(answers.get(message.id));
  };
}

/** A signed echo call (a new key each time); the same request can be sent under several JSON-RPC ids. */
const call = (text: string, signedAt?: () => number) => {
  const args = { text };
  const signed = signRequest(keySigner(generateEd25519().privateKey), {
    purpose: toolCallPurpose('echo'),
    payload: toolCallPayload('echo', args),
    ...(signedAt === undefined ? {} : { now: signedAt }),
  });
  return (id: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'echo', arguments: args, _meta: { [AGENT_REQUEST_META]: signed } },
  });
};

async function newHome(): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'oacp-home-'));
  await KeyStore.init(home, { env: {} });
  writeNodeConfig(home, { version: 1, origin: 'test.oacp.invalid/nonces' });
  return home;
}

/**
 * Every process on a home spends nonces in `<home>/nonces.db`, and each one
 * sweeps expired rows by its own clock. A process whose clock runs ahead
 * (a host clock stepped forward and back, a process under faketime) must
 * not sweep nonces the others still hold live, or a captured request is
 * accepted again by every process with the right time.
 */
describe('durable nonces on the home under faults: a clock running ahead, the file removed or damaged', () => {
  const children: ChildProcessWithoutNullStreams[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.stdin.end();
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  const bridge = (home: string, preload?: string) => {
    const child = spawn(
      process.execPath,
      [
        ...(preload === undefined ? [] : ['--import', preload]),
        BIN,
        '--home',
        home,
        'mcp',
        'run',
        '--tier',
        'light',
        '--name',
        'raw',
        '--',
        process.execPath,
        RAW_SERVER,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
    );
    children.push(child);
    return lineClient(child);
  };

  it.skipIf(!existsSync(BIN))(
    'attack: a bridge 10 minutes ahead sweeping the home store does not let a captured request through again',
    async () => {
      const home = await newHome();
      const fastClock = join(home, 'clock-ahead.mjs');
      writeFileSync(fastClock, `const now = Date.now; Date.now = () => now() + ${AHEAD_MS};\n`);

      // A request goes through a bridge with the right time; an attacker keeps a copy.
      const right = bridge(home);
      await right(INITIALIZE);
      const captured = call('pay 100');
      expect(await right(captured(1))).toContain('pay 100');
      expect(await right(captured(2))).toContain('replayed nonce');

      // A bridge on the same home whose clock runs 10 minutes ahead serves a request of its own
      // time: spending that nonce sweeps the rows it believes expired.
      const ahead = bridge(home, fastClock);
      await ahead(INITIALIZE);
      expect(await ahead(call('from the future', () => Date.now() + AHEAD_MS)(3))).toContain(
        'from the future',
      );

      // The captured request, sent again to the bridge with the right time (and to a new one), is still a replay.
      const replayed = await right(captured(4));
      expect(replayed).toContain('replayed nonce');
      expect(replayed).not.toContain('pay 100');
      const fresh = bridge(home);
      await fresh(INITIALIZE);
      expect(await fresh(captured(5))).toContain('replayed nonce');
    },
    60_000,
  );
  it.skipIf(!existsSync(BIN))(
    'attack: nonces.db removed under a running bridge: it refuses signed calls, naming the file, rather than remember where no one else looks',
    async () => {
      const home = await newHome();
      const running = bridge(home);
      await running(INITIALIZE);
      expect(await running(call('before')(1))).toContain('before');
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(home, `nonces.db${suffix}`), { force: true });
      const gone = await running(call('while gone')(5));
      expect(gone).toContain(`${join(home, 'nonces.db')} was removed`);
      expect(gone).not.toContain('while gone');
      // A new bridge makes a fresh file; the running one would otherwise accept what the new one never sees.
      const fresh = bridge(home);
      await fresh(INITIALIZE);
      const shared = call('pay 100');
      expect(await fresh(shared(2))).toContain('pay 100');
      const refused = await running(shared(3));
      expect(refused).toContain('"isError":true');
      expect(refused).toContain(`${join(home, 'nonces.db')} was replaced`);
      expect(refused).not.toContain('pay 100');
      expect(await fresh(shared(4))).toContain('replayed nonce');
    },
    60_000,
  );

  it.skipIf(!existsSync(BIN))(
    'attack: a damaged nonces.db: the bridge does not start, and says which file in one line',
    async () => {
      const home = await newHome();
      writeFileSync(join(home, 'nonces.db'), Buffer.alloc(8192, 0x5a));
      const child = spawn(
        process.execPath,
        [BIN, '--home', home, 'mcp', 'run', '--', process.execPath, RAW_SERVER],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '' },
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).not.toBe(0);
      expect(stderr).toContain(`cannot open the nonce store at ${join(home, 'nonces.db')}`);
      expect(stderr).not.toMatch(/^\s+at /m);
    },
    60_000,
  );
});
