import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { ATTACKERS, who } from '../escape/confine-harness.js';
import {
  asUser,
  exportAndVerify,
  killHard,
  type Listed,
  MAIN,
  oacp,
  scratch,
  startBridge,
  type User,
  until,
  userEnv,
} from './killed-harness.js';

/**
 * Every side effect has a receipt, even when OACP itself is killed: a tools/call the server
 * received (and acted on) while the bridge was killed with SIGKILL gets a receipt with outcome
 * `interrupted`, recorded from the call's intent by the next oacp process on the home. The
 * attack on the real CLI: a real bridge over a real server in the hardened tier, a real kill.
 */
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

/** A fresh home and a work folder holding the server, and the file the server's effect lands in. */
function place(prefix: string, user?: User) {
  const made = scratch(dirs, prefix, user, SERVER);
  return { ...made, effect: join(made.work, 'effect.jsonl') };
}

/** `oacp mcp run` (hardened, the work folder granted) over the server, initialized by a raw client. */
function startEffects(
  { home, work, effect, user }: { home: string; work: string; effect: string; user: User },
  client: string,
) {
  const args = [
    'mcp',
    'run',
    '--allow-files',
    `${work}:rw`,
    '--',
    process.execPath,
    join(work, 'server.mjs'),
    effect,
  ];
  return startBridge(home, user, args, { name: client });
}

describe('a bridge killed with SIGKILL while the server has a call', () => {
  for (const user of ATTACKERS) {
    it(`attack ${who(user)}: the call the server acted on gets one receipt, outcome interrupted and forwarded, with the digest of what it was sent`, async () => {
      const at = place('oacp-killed-bridge-', user);
      const { home, effect } = at;
      const bridge = await startEffects(at, 'killer');
      const { send } = bridge;
      try {
        const args = { marker: 'acted-on', n: [1, 2] };
        send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'touch', arguments: args } });
        await until(
          () => existsSync(effect) && readFileSync(effect, 'utf8').includes('acted-on'),
          'the side effect',
        );
        await killHard(bridge.process);
        expect(bridge.stdout()).not.toContain('"id":2');

        // Reading the log records what the killed bridge left, before listing.
        const listed = oacp(home, ['log', 'list', '--json'], user);
        expect(listed.status).toBe(0);
        expect(listed.stderr).toContain('recorded 1 receipt(s) with outcome "interrupted"');
        const entries = (JSON.parse(listed.stdout) as { entries: Listed[] }).entries.filter(
          (e) => e.tool === 'touch',
        );
        expect(entries).toHaveLength(1);
        // A receipt like any other: it verifies offline with its inclusion proof.
        expect(exportAndVerify(at, entries[0]?.index)).toMatchObject({
          outcome: 'interrupted',
          forwarded: true,
          argumentsDigest: jcsDigest(args),
          policy: { effect: 'allow' },
        });
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
      const { home, work } = scratch(dirs, 'oacp-killed-run-', user);
      const started = join(work, 'started');
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
        await killHard(run);
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
    const { dir, home } = scratch(dirs, 'oacp-killed-agent-', undefined);
    const agent = join(dir, 'loop.js');
    writeFileSync(agent, 'while (true) {}');
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
    const at = place('oacp-no-intents-');
    // A file where the journal's directory should be: no journal can be created in it.
    writeFileSync(join(at.home, 'intents'), '');
    const bridge = await startEffects(at, 'c');
    const { send } = bridge;
    const { effect } = at;
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
