import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { bridgeArgs, bridgeRefusal, signedToolCall } from '../mcp/home-bridge.js';
import { alive } from '../mcp/raw-harness.js';
import { oacp, tempDir } from './harness.js';

const QUOTA_FLAGS = ['--quota-calls', '3/min'];
const MEMORY = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-memory/dist/index.js');

interface Bridge {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  /** What the bridge printed on stderr, for a failure's message. */
  readonly stderr: () => string;
}

/**
 * `oacp mcp run --quota-calls` keeps its bucket in the home's store: two
 * bridges on one home share N calls a minute, and a bridge killed with
 * SIGKILL and started again does not get a fresh quota.
 */
describe('oacp mcp run call quota on the home store', () => {
  const bridges: Bridge[] = [];
  afterEach(async () => {
    for (const bridge of bridges.splice(0)) await bridge.client.close().catch(() => undefined);
  });

  /** `preload`: a module node imports first (a clock running ahead). */
  const start = async (home: string, clientName = 'quota-test', preload?: string): Promise<Bridge> => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: bridgeArgs(home, {
        flags: QUOTA_FLAGS,
        server: [process.execPath, MEMORY],
        ...(preload === undefined ? {} : { preload }),
      }),
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    const client = new Client({ name: clientName, version: '1.0.0' });
    await client.connect(transport).catch((error: unknown) => {
      throw new Error(`a bridge did not start (${String(error)}); it said: ${stderr}`);
    });
    const bridge = { client, transport, stderr: () => stderr };
    bridges.push(bridge);
    return bridge;
  };
  /** One read_graph call; `signed` makes a new key for it and signs the call with that key. */
  const call = async (bridge: Bridge, signed = false) => {
    const meta = signed ? { _meta: signedToolCall('read_graph', {})(0).params._meta } : {};
    const result = await bridge.client
      .callTool({ name: 'read_graph', arguments: {}, ...meta })
      .catch((error: unknown) => {
        throw new Error(`a call failed (${String(error)}); its bridge said: ${bridge.stderr()}`);
      });
    return result.isError === true ? JSON.stringify(result.content) : 'allowed';
  };

  it('two bridges on one home allow N calls together, and kill -9 then restart does not reset the count', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const [one, two] = await Promise.all([start(home), start(home)]);
    if (one === undefined || two === undefined) throw new Error('bridges did not start');

    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await call(i % 2 === 0 ? one : two));
    expect(outcomes.filter((o) => o === 'allowed')).toHaveLength(3);
    for (const refused of outcomes.filter((o) => o !== 'allowed'))
      expect(refused).toMatch(/call quota exceeded: 3 calls per minute/);

    // The attack: kill the bridge and start it again, hoping for a fresh bucket.
    const pid = one.transport.pid;
    if (pid === null) throw new Error('no bridge pid');
    process.kill(pid, 'SIGKILL');
    const again = await start(home);
    expect(await call(again)).toMatch(/call quota exceeded: 3 calls per minute/);
    expect(await call(two)).toMatch(/call quota exceeded/);
  }, 60_000);

  it('attack: the quota database deleted under a running bridge: it keeps refusing, and a new bridge refuses to start, naming the file', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const running = await start(home);
    expect([await call(running), await call(running), await call(running)]).toEqual([
      'allowed',
      'allowed',
      'allowed',
    ]);
    // The database goes (its -wal and -shm, which the running bridge holds, stay).
    rmSync(join(home, 'gateway.db'));
    expect(await call(running)).toMatch(/call quota exceeded: 3 calls per minute/);

    const { code, stderr } = await bridgeRefusal(home, {
      flags: QUOTA_FLAGS,
      server: [process.execPath, MEMORY],
    });
    expect(code).not.toBe(0);
    // One line naming the file (no bare "disk I/O error" from closing the half-opened store), no stack trace.
    const said = stderr
      .split('\n')
      .filter((line) => line.startsWith('oacp: ') && !line.includes('MCP bridge'));
    expect(said.join('\n')).toContain(join(home, 'gateway.db'));
    expect(said.join('\n')).toMatch(/STORE_/);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(await call(running)).toMatch(/call quota exceeded: 3 calls per minute/);
  }, 60_000);

  it('attack: the quota database deleted, or replaced by an empty file, while no bridge runs: the next bridge refuses to start until the operator accepts the new store', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    const db = join(home, 'gateway.db');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const killed = async (bridge: Bridge) => {
      const pid = bridge.transport.pid;
      if (pid === null) throw new Error('no bridge pid');
      process.kill(pid, 'SIGKILL');
      while (alive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    const refusedStart = async () => {
      const { code, stderr } = await bridgeRefusal(home, {
        flags: QUOTA_FLAGS,
        server: [process.execPath, MEMORY],
      });
      expect(code).toBeGreaterThan(0);
      expect(stderr).toContain('STORE_REPLACED');
      expect(stderr).toContain(`the store at ${db} is not the one this home last used`);
      expect(stderr).toContain(`oacp --home ${home} store accept`);
      expect(stderr).not.toMatch(/^\s+at /m);
    };

    let running = await start(home);
    expect([await call(running), await call(running), await call(running)]).toEqual([
      'allowed',
      'allowed',
      'allowed',
    ]);
    expect(await call(running)).toMatch(/call quota exceeded: 3 calls per minute/);

    for (const wipe of ['deleted', 'replaced by an empty file']) {
      await killed(running);
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
      if (wipe !== 'deleted') writeFileSync(db, '');
      // The attack: a fresh store would hand out 3 calls again. Every start refuses, not only the first.
      await refusedStart();
      await refusedStart();
      const status = await oacp(['--home', home, 'store', 'status']);
      expect(status.code).toBe(1);
      expect(status.stdout).toContain(`${db}: no: the store at ${db} is not the one this home last used`);
      expect((await oacp(['--home', home, 'doctor'])).stdout).toContain(
        `quota store (${db}): no: the store at ${db} is not the one this home last used`,
      );

      // The operator's word, by name: the store there now is the home's, its windows full.
      const accepted = await oacp(['--home', home, 'store', 'accept']);
      expect(accepted.code).toBe(0);
      expect(accepted.stdout).toMatch(
        /accepted store [0-9a-f]{12} at .*gateway\.db in place of [0-9a-f]{12}/,
      );
      expect((await oacp(['--home', home, 'doctor'])).stdout).toMatch(
        /quota store \(.*gateway\.db\): ok: store [0-9a-f]{12}, the one recorded/,
      );
      running = await start(home);
      expect(await call(running), wipe).toBe('allowed');
    }
  }, 90_000);

  it("attack: the home's record of its store damaged: a quota-limited bridge refuses to start, naming the file, rather than trust any store", async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const first = await start(home);
    expect(await call(first)).toBe('allowed');
    await first.client.close();
    writeFileSync(join(home, 'store-identity.json'), '{"version":1,"stores":{"/x":"not an id"}}');
    const { code, stderr } = await bridgeRefusal(home, {
      flags: QUOTA_FLAGS,
      server: [process.execPath, MEMORY],
    });
    expect(code).toBeGreaterThan(0);
    expect(stderr).toContain(`${join(home, 'store-identity.json')} is damaged`);
    expect(stderr).not.toMatch(/^\s+at /m);
    const status = await oacp(['--home', home, 'doctor']);
    expect(status.stdout).toContain(
      `quota store (${join(home, 'gateway.db')}): no: ${join(home, 'store-identity.json')} is damaged`,
    );
  }, 60_000);

  it('attack: a bridge whose clock runs 10 minutes ahead drains the bucket: a bridge with the right time refuses, and says the true wait', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const fastClock = join(root, 'clock-ahead.mjs');
    writeFileSync(fastClock, 'const now = Date.now; Date.now = () => now() + 600_000;\n');
    const ahead = await start(home, 'quota-test', fastClock);
    expect([await call(ahead), await call(ahead), await call(ahead)]).toEqual([
      'allowed',
      'allowed',
      'allowed',
    ]);
    // The bucket refills from its last change, 10 minutes ahead of this bridge's clock: no call
    // until then, and the refusal says so rather than "retry in about 20 s".
    const right = await start(home);
    const refused = await call(right);
    const seconds = Number(/retry in about (\d+) s/.exec(refused)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(600);
    expect(seconds).toBeLessThanOrEqual(625);
    expect(await call(ahead)).toMatch(/retry in about (1\d|20) s/);
    // The operator is told: the bucket refills nothing until this clock passes the time it was changed at.
    const status = await oacp(['--home', home, 'store', 'status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(
      /1 quota bucket last changed by a clock up to (10|11) min ahead of this one/,
    );
  }, 60_000);

  it('attack: a clock a year ahead, then set back, drains the bucket: `oacp store reset-future` lists it, refuses without --yes, and with it the bucket refills from now, not full', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const yearAhead = join(root, 'clock-year-ahead.mjs');
    writeFileSync(yearAhead, 'const now = Date.now; Date.now = () => now() + 365 * 86_400_000;\n');
    const ahead = await start(home, 'quota-test', yearAhead);
    expect([await call(ahead), await call(ahead), await call(ahead)]).toEqual([
      'allowed',
      'allowed',
      'allowed',
    ]);
    await ahead.client.close();
    const right = await start(home);
    expect(Number(/retry in about (\d+) s/.exec(await call(right))?.[1])).toBeGreaterThan(364 * 86_400);

    // Without --yes: listed, refused, nothing changed.
    const listed = await oacp(['--home', home, 'store', 'reset-future']);
    expect(listed.code).toBe(2);
    expect(listed.stderr).toBe(
      'oacp: --yes: not given, nothing changed; with it, the 1 bucket above refill from now at their rate, their tokens kept',
    );
    const key = /^(\S+): stamped (365|366) days ahead of this clock, 0 of 3 tokens$/.exec(listed.stdout)?.[1];
    expect(key, listed.stdout).toBeDefined();
    const unknown = await oacp(['--home', home, 'store', 'reset-future', '--bucket', 'no-such', '--yes']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      '--bucket: "no-such" is not stamped more than a minute ahead of this clock',
    );
    expect((await oacp(['--home', home, 'store', 'status'])).stdout).toMatch(
      /1 quota bucket last changed by a clock up to \d+ min ahead/,
    );
    expect(await call(right)).toMatch(/retry in about \d{8,} s/);

    const done = await oacp(['--home', home, 'store', 'reset-future', '--bucket', key ?? '', '--yes']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('restamped 1 quota bucket at');
    expect(done.stdout).toContain('(security event quota.restamped, by uid 0)');
    const status = await oacp(['--home', home, 'store', 'status']);
    expect(status.code, status.stdout).toBe(0);
    // Its tokens kept: empty, it refills at its rate from now (one call in 20 s), never a full window again.
    expect(await call(right)).toMatch(/retry in about (1\d|20) s/);
    expect((await oacp(['--home', home, 'store', 'reset-future'])).stdout).toContain(
      'no quota bucket was last changed by a clock more than 1 min ahead of this one',
    );
    const store = await openStore(join(home, 'gateway.db'));
    try {
      const events = await store.securityEvents.list({ kind: 'quota.restamped' });
      expect(events).toHaveLength(1);
      expect(events[0]?.subject).toBe('uid 0');
      expect(JSON.parse(events[0]?.detail ?? '{}').buckets[0]).toMatchObject({ key });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('attack: a client that renames itself or signs each call with a key it just made shares the one bucket', async () => {
    const root = tempDir();
    chmodSync(root, 0o755);
    const home = join(root, 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const first = await start(home, 'client-a');
    const outcomes = [await call(first), await call(first), await call(first)];
    expect(outcomes).toEqual(['allowed', 'allowed', 'allowed']);
    // A new name (clientInfo.name is whatever the client says) buys no bucket of its own...
    const renamed = await start(home, 'client-b');
    expect(await call(renamed)).toMatch(/call quota exceeded: 3 calls per minute/);
    // ...nor does a did:key the client minted a moment ago (it verifies, but anyone can make one).
    expect(await call(renamed, true)).toMatch(/call quota exceeded: 3 calls per minute/);
    expect(await call(first, true)).toMatch(/call quota exceeded: 3 calls per minute/);
  }, 60_000);
});
