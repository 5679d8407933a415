import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { OacpStatement } from '../../src/attest/oacp-statement.js';
import type { BuildStatementInput } from '../../src/attest/receipt.js';
import { TOOL_CALL_PREDICATE_TYPE } from '../../src/attest/tool-call.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { hasOrphanedIntents, IntentJournal, recoverIntents } from '../../src/node/intent-journal.js';
import { defaultOrigin, writeNodeConfig } from '../../src/node/node-config.js';
import { intentsDirectory, OacpNode } from '../../src/node/oacp-node.js';
import { toolCallPredicate } from '../attest/fixtures.js';
import { withLogState } from '../log-state.js';

const JOURNAL = resolve('dist/node/intent-journal.js');
const NODE = resolve('dist/node/oacp-node.js');
const RECEIPTS = resolve('dist/mcp/receipts.js');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-intents-'));
  dirs.push(dir);
  return join(dir, 'intents');
}

const intent = (tool: string): BuildStatementInput => ({
  predicateType: TOOL_CALL_PREDICATE_TYPE,
  predicate: {
    ...toolCallPredicate(undefined),
    tool: { ...toolCallPredicate(undefined).tool, name: tool },
    outcome: 'interrupted',
    forwarded: true,
  },
});

/** Records into a list (what OacpNode.record would sign and append). */
function collector(): { statements: OacpStatement[]; record: (s: OacpStatement) => Promise<void> } {
  const statements: OacpStatement[] = [];
  return { statements, record: async (statement) => void statements.push(statement) };
}

/**
 * A real process that writes intents (and marks some done), then is killed with SIGKILL while it
 * still holds its journal: what a bridge killed mid-call leaves behind.
 */
async function killedWriter(dir: string, tools: string[], doneCount: number): Promise<void> {
  const statements = JSON.stringify(tools.map(intent));
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { IntentJournal } = await import(${JSON.stringify(JOURNAL)});
       const journal = IntentJournal.open(${JSON.stringify(dir)});
       const all = ${statements};
       all.forEach((s, i) => journal.write('call-' + i, s));
       for (let i = 0; i < ${doneCount}; i++) journal.done('call-' + i);
       process.stdout.write('ready\\n');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((done) => child.stdout.once('data', () => done()));
  // Alive: its journal is locked, and no recovery may touch it.
  const alive = collector();
  expect(hasOrphanedIntents(dir)).toBe(false);
  expect(await recoverIntents(dir, alive.record)).toEqual({ recorded: 0, unreadable: [] });
  expect(alive.statements).toEqual([]);
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
}

describe('IntentJournal: the receipt of an effect whose process died before recording it', () => {
  it('attack: a writer killed with SIGKILL leaves its undone intents; the next opener records each once, then never again', async () => {
    const dir = scratch();
    await killedWriter(dir, ['first', 'second', 'third'], 1);
    expect(hasOrphanedIntents(dir)).toBe(true);
    const first = collector();
    expect(await recoverIntents(dir, first.record)).toEqual({ recorded: 2, unreadable: [] });
    expect(
      first.statements.map((s) => [s.predicateType, (s.predicate as { tool: { name: string } }).tool.name]),
    ).toEqual([
      [TOOL_CALL_PREDICATE_TYPE, 'second'],
      [TOOL_CALL_PREDICATE_TYPE, 'third'],
    ]);
    // Built and checked like any receipt: the subjects are derived from the predicate.
    expect(first.statements[0]?.subject.length).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual([]);
    const again = collector();
    expect(await recoverIntents(dir, again.record)).toEqual({ recorded: 0, unreadable: [] });
    expect(hasOrphanedIntents(dir)).toBe(false);
  });

  it('attack: two processes opening the home at once record each intent exactly once between them', async () => {
    const dir = scratch();
    await killedWriter(dir, ['x', 'y', 'z'], 0);
    const both = collector();
    const slow = async (statement: OacpStatement) => {
      await new Promise((done) => setTimeout(done, 5));
      await both.record(statement);
    };
    const results = await Promise.all([
      recoverIntents(dir, slow),
      recoverIntents(dir, slow),
      recoverIntents(dir, slow),
    ]);
    expect(results.reduce((sum, r) => sum + r.recorded, 0)).toBe(3);
    expect(both.statements).toHaveLength(3);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a recovery that fails part-way resumes where it stopped: no intent is recorded twice', async () => {
    const dir = scratch();
    await killedWriter(dir, ['a', 'b', 'c'], 0);
    const seen: string[] = [];
    const failing = async (statement: OacpStatement) => {
      const name = (statement.predicate as { tool: { name: string } }).tool.name;
      if (name === 'b') throw new Error('log full');
      seen.push(name);
    };
    expect(await recoverIntents(dir, failing)).toEqual({ recorded: 1, unreadable: [], failed: 'log full' });
    const rest = collector();
    expect(await recoverIntents(dir, rest.record)).toEqual({ recorded: 2, unreadable: [] });
    expect([
      ...seen,
      ...rest.statements.map((s) => (s.predicate as { tool: { name: string } }).tool.name),
    ]).toEqual(['a', 'b', 'c']);
  });

  it('a torn last line (the process died writing it, before its effect) is ignored; a damaged or forged line keeps the journal unrecorded and named', async () => {
    const torn = scratch();
    await killedWriter(torn, ['whole'], 0);
    const [name] = readdirSync(torn);
    writeFileSync(
      join(torn, name ?? ''),
      `${readFileSync(join(torn, name ?? ''), 'utf8')}{"i":"half","t":"ht`,
    );
    const fromTorn = collector();
    expect(await recoverIntents(torn, fromTorn.record)).toEqual({ recorded: 1, unreadable: [] });

    const forged = scratch();
    await killedWriter(forged, ['real'], 0);
    const [file] = readdirSync(forged);
    const path = join(forged, file ?? '');
    // A predicate that is not a valid tool-call predicate (no policy) is never signed into a receipt.
    const bad = { i: 'x', t: TOOL_CALL_PREDICATE_TYPE, p: { tool: 'nope' } };
    writeFileSync(path, `${JSON.stringify(bad)}\n${readFileSync(path, 'utf8')}`);
    const fromForged = collector();
    expect(await recoverIntents(forged, fromForged.record)).toEqual({ recorded: 0, unreadable: [path] });
    expect(fromForged.statements).toEqual([]);
    expect(readdirSync(forged)).toEqual([file]);
  });

  it('a clean close removes a journal with nothing pending and keeps one with pending intents', async () => {
    const dir = scratch();
    const clean = IntentJournal.open(dir);
    clean.write('one', intent('one'));
    clean.done('one');
    clean.close();
    expect(readdirSync(dir)).toEqual([]);
    const unfinished = IntentJournal.open(dir);
    unfinished.write('two', intent('two'));
    unfinished.close();
    expect(() => unfinished.write('three', intent('three'))).toThrow(/closed/);
    const recovered = collector();
    expect(await recoverIntents(dir, recovered.record)).toEqual({ recorded: 1, unreadable: [] });
  });

  it('refuses to write where it cannot (the effect must then be refused), naming the journal', () => {
    const dir = scratch();
    writeFileSync(join(dir, '..', 'file'), '');
    expect(() => IntentJournal.open(join(dir, '..', 'file', 'intents'))).toThrow(
      /cannot create the intent journal/,
    );
  });
  it('attack: a FIFO planted as a journal does not hang the check every oacp log command makes', () => {
    const dir = scratch();
    mkdirSync(dir, { mode: 0o700 });
    spawnSync('mkfifo', [join(dir, '1-planted.intents')]);
    // In a child: a blocking open(2) would hang this very thread, and the test with it.
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { hasOrphanedIntents, recoverIntents } = await import(${JSON.stringify(JOURNAL)});
         const found = hasOrphanedIntents(${JSON.stringify(dir)});
         const recovery = await recoverIntents(${JSON.stringify(dir)}, async () => {});
         process.stdout.write(JSON.stringify({ found, recovery }));`,
      ],
      { timeout: 10_000, encoding: 'utf8' },
    );
    expect(probe.signal).toBeNull();
    expect(JSON.parse(probe.stdout)).toEqual({ found: false, recovery: { recorded: 0, unreadable: [] } });
  });

  it('attack: a forged line claiming a call answered (not interrupted), or repeating a member, is never signed', async () => {
    for (const forge of [
      (line: string) => line.replace('"outcome":"interrupted"', '"outcome":"result"'),
      (line: string) => line.replace('"outcome":"interrupted"', '"outcome":"result","outcome":"interrupted"'),
    ]) {
      const dir = scratch();
      await killedWriter(dir, ['real'], 0);
      const [file] = readdirSync(dir);
      const path = join(dir, file ?? '');
      const forged = forge(readFileSync(path, 'utf8').trimEnd());
      expect(forged).not.toEqual(readFileSync(path, 'utf8').trimEnd());
      writeFileSync(path, `${forged}\n`);
      const recovered = collector();
      expect(await recoverIntents(dir, recovered.record)).toEqual({ recorded: 0, unreadable: [path] });
      expect(recovered.statements).toEqual([]);
    }
  });

  it('attack: a journal another user owns, or past the size bound, is named and not signed', async () => {
    const dir = scratch();
    await killedWriter(dir, ['mine'], 0);
    const [file] = readdirSync(dir);
    const path = join(dir, file ?? '');
    chownSync(path, 1000, 1000);
    const foreign = collector();
    expect(await recoverIntents(dir, foreign.record)).toEqual({ recorded: 0, unreadable: [path] });
    chownSync(path, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
    truncateSync(path, 64 * 1024 * 1024 + 1);
    const huge = collector();
    expect(await recoverIntents(dir, huge.record)).toEqual({ recorded: 0, unreadable: [path] });
    expect(foreign.statements.length + huge.statements.length).toBe(0);
    // A hard link: recovery would append its marks to (and cut) the file's other name too.
    const linked = scratch();
    await killedWriter(linked, ['linked'], 0);
    const [linkedName] = readdirSync(linked);
    const elsewhere = join(linked, '..', 'elsewhere');
    linkSync(join(linked, linkedName ?? ''), elsewhere);
    const before = readFileSync(elsewhere, 'utf8');
    expect(await recoverIntents(linked, collector().record)).toEqual({
      recorded: 0,
      unreadable: [join(linked, linkedName ?? '')],
    });
    expect(readFileSync(elsewhere, 'utf8')).toBe(before);
    // Root's journal in a user's home (root ran a bridge there) is recorded: root could write anything there.
    const users = scratch();
    await killedWriter(users, ['roots'], 0);
    chownSync(users, 1000, 1000);
    expect(await recoverIntents(users, collector().record)).toEqual({ recorded: 1, unreadable: [] });
  });

  it("attack: HOME/intents planted as a symlink to another home's journals, or a folder others may write, is neither read nor written", async () => {
    const other = scratch();
    await killedWriter(other, ['theirs'], 0);
    const dir = scratch();
    symlinkSync(other, dir);
    expect(hasOrphanedIntents(dir)).toBe(false);
    const viaLink = collector();
    expect(await recoverIntents(dir, viaLink.record)).toEqual({ recorded: 0, unreadable: [dir] });
    expect(viaLink.statements).toEqual([]);
    expect(readdirSync(other)).toHaveLength(1);
    expect(() => IntentJournal.open(dir)).toThrow(/symlink or others may write/);

    const open = scratch();
    await killedWriter(open, ['shared'], 0);
    chmodSync(open, 0o777);
    expect(await recoverIntents(open, collector().record)).toEqual({ recorded: 0, unreadable: [open] });
    expect(() => IntentJournal.open(open)).toThrow(/symlink or others may write/);
  });
  it('fault: a process out of file descriptors is told so (EMFILE and the way out), not that its folder is unsafe', () => {
    const dir = scratch();
    // Every descriptor the child may have is taken before the journal is opened (as a flood of
    // connections leaves a gateway); the folder itself is private and fine.
    const run = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { openSync } from 'node:fs';
         const { IntentJournal } = await import(${JSON.stringify(JOURNAL)});
         try { for (;;) openSync('/dev/null', 'r'); } catch {}
         try { IntentJournal.open(${JSON.stringify(dir)}); console.log('opened'); }
         catch (error) { console.log(error.code + ': ' + error.message); }`,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(run.stdout).toMatch(
      /^NODE_INTENT_UNWRITABLE: cannot create the intent journal .* \(EMFILE\): .*ulimit -n/,
    );
    expect(run.stdout).not.toMatch(/symlink or others may write/);
  });
  it('attack: a process that always has a call pending (a busy gateway) keeps its journal small, and a kill after compactions loses no intent', async () => {
    const dir = scratch();
    const statement = JSON.stringify(intent('busy'));
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { IntentJournal } = await import(${JSON.stringify(JOURNAL)});
         const journal = IntentJournal.open(${JSON.stringify(dir)});
         const s = ${statement};
         journal.write('stuck', s);
         for (let i = 0; i < 4000; i++) { journal.write('c' + i, s); journal.write('d' + i, s); journal.done('c' + i); journal.done('d' + i); }
         journal.write('last', s);
         process.stdout.write('ready\\n');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((done) => child.stdout.once('data', () => done()));
    const [file, ...others] = readdirSync(dir);
    expect(others).toEqual([]);
    const lines = readFileSync(join(dir, file ?? ''), 'utf8')
      .trimEnd()
      .split('\n');
    // About 8,000 intents and marks were written; the file holds a fraction of them.
    expect(lines.length).toBeLessThan(4000);
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
    const recovered = collector();
    expect(await recoverIntents(dir, recovered.record)).toEqual({ recorded: 2, unreadable: [] });
    expect(readdirSync(dir)).toEqual([]);
  });
  it('attack: a compaction killed before its rename leaves NAME.intents.compacting: the next opener removes it and records each intent once; a live compaction is left alone', async () => {
    const dir = scratch();
    await killedWriter(dir, ['first', 'second', 'third'], 1);
    const [journal] = readdirSync(dir);
    // What the killed compaction had written: the pending lines, a copy of what the journal holds.
    const pendingLines = readFileSync(join(dir, journal ?? ''), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{"i"'))
      .slice(1)
      .join('\n');
    writeFileSync(join(dir, `${journal}.compacting`), `${pendingLines}\n`, { mode: 0o600 });
    // One an earlier version left with no journal beside it, and one a live process is writing.
    writeFileSync(join(dir, '1-aaaaaaaaaaaa.intents.compacting'), `${pendingLines}\n`, { mode: 0o600 });
    const live = join(dir, '2-bbbbbbbbbbbb.intents.compacting');
    const liveFd = openSync(live, 'w', 0o600);
    (createRequire(import.meta.url)('fs-ext') as { flockSync(fd: number, flags: string): void }).flockSync(
      liveFd,
      'exnb',
    );
    try {
      const recovered = collector();
      expect(await recoverIntents(dir, recovered.record)).toEqual({ recorded: 2, unreadable: [] });
      expect(recovered.statements.map((s) => (s.predicate as { tool: { name: string } }).tool.name)).toEqual([
        'second',
        'third',
      ]);
      expect(readdirSync(dir)).toEqual(['2-bbbbbbbbbbbb.intents.compacting']);
    } finally {
      closeSync(liveFd);
    }
    // Unlocked now: a leftover alone is reason enough to run recovery, which removes it.
    expect(hasOrphanedIntents(dir)).toBe(true);
    expect(await recoverIntents(dir, collector().record)).toEqual({ recorded: 0, unreadable: [] });
    expect(readdirSync(dir)).toEqual([]);
    expect(hasOrphanedIntents(dir)).toBe(false);
  });

  it('attack: a recovery killed after appending a receipt and before marking it done does not append it again', async () => {
    const home = join(scratch(), '..', 'home');
    const store = await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: defaultOrigin(store.publicKeys().log.raw) });
    const dir = intentsDirectory(home);
    // A recovering process, open on the home before the journal exists, told to go by a line on stdin.
    const recovering = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { OacpNode } = await import(${JSON.stringify(NODE)});
         const { recoverIntents } = await import(${JSON.stringify(JOURNAL)});
         const node = await OacpNode.open(${JSON.stringify(home)}, ${JSON.stringify(withLogState({}))});
         process.stdout.write('open\\n');
         process.stdin.once('data', () =>
           recoverIntents(${JSON.stringify(dir)}, async (statement) => {
             await node.record(statement);
             // Killed with the receipt durable and its intent not yet marked done.
             process.kill(process.pid, 'SIGKILL');
           }, () => node.log.size));`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    await new Promise<void>((done) => recovering.stdout.once('data', () => done()));
    await killedWriter(dir, ['first', 'second'], 0);
    const died = new Promise((done) => recovering.once('exit', (_code, signal) => done(signal)));
    recovering.stdin.write('go\n');
    expect(await died).toBe('SIGKILL');

    const node = await OacpNode.open(home, withLogState({}));
    try {
      expect(node.recovered).toEqual({ recorded: 2, unreadable: [] });
      const tools: string[] = [];
      for (let index = 0; index < node.log.size; index++) {
        const envelope = JSON.parse(Buffer.from(await node.log.entry(index)).toString('utf8'));
        const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
        tools.push(statement.predicate.tool.name);
      }
      expect(tools).toEqual(['first', 'second']);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await node.close();
    }
  });
  it('attack: a torn last line, then a recovery that stops part-way: the next recovery still reads the journal and records the rest once', async () => {
    const dir = scratch();
    await killedWriter(dir, ['a', 'b'], 0);
    const [name] = readdirSync(dir);
    const path = join(dir, name ?? '');
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"i":"half","t":"ht`);
    const first = collector();
    let calls = 0;
    const failing = async (statement: OacpStatement) => {
      calls += 1;
      if (calls === 2) throw new Error('log full');
      await first.record(statement);
    };
    expect(await recoverIntents(dir, failing)).toEqual({ recorded: 1, unreadable: [], failed: 'log full' });
    const rest = collector();
    expect(await recoverIntents(dir, rest.record)).toEqual({ recorded: 1, unreadable: [] });
    expect(
      [...first.statements, ...rest.statements].map(
        (s) => (s.predicate as { tool: { name: string } }).tool.name,
      ),
    ).toEqual(['a', 'b']);
  });
  it("attack: a process killed after a call's real receipt reached the log (before its fsync) leaves that call one receipt, not a second interrupted one", async () => {
    const home = join(scratch(), '..', 'home');
    const store = await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: defaultOrigin(store.publicKeys().log.raw) });
    const hex = (c: string) => c.repeat(64);
    const call = {
      callId: 'c1',
      server: { name: 'files', command: '/usr/bin/node', args: ['/srv/server.js'] },
      tier: 'hardened',
      agent: 'client:claude',
      tool: 'read_file',
      upstreamTool: 'read_file',
      toolDefinitionDigest: hex('c'),
      policyDigest: hex('d'),
      argumentsDigest: hex('e'),
      decision: { effect: 'allow', reason: 'permitted' },
      checks: {},
      outcome: 'result',
      resultDigest: hex('f'),
      startedAt: '2025-01-01T00:00:00.000Z',
      durationMs: 1,
    };
    // The bridge's own receipt path (AttestedReceipts over OacpNode), killed the moment the real
    // receipt's bytes are written to the log, before the fsync and before any later turn of the loop.
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { OacpNode } = await import(${JSON.stringify(NODE)});
         const { AttestedReceipts } = await import(${JSON.stringify(RECEIPTS)});
         const node = await OacpNode.open(${JSON.stringify(home)}, ${JSON.stringify(withLogState({}))});
         const writer = {
           record: (statement, agent, written) =>
             node.record(statement, agent, () => { written?.(); process.kill(process.pid, 'SIGKILL'); }),
         };
         const receipts = new AttestedReceipts({ writer, origin: node.origin, journal: () => node.intents() });
         const call = ${JSON.stringify(call)};
         receipts.intend({ ...call, outcome: 'interrupted', forwarded: true, resultDigest: undefined });
         await receipts.record(call);`,
      ],
      { timeout: 30_000, encoding: 'utf8' },
    );
    expect(child.signal).toBe('SIGKILL');
    const node = await OacpNode.open(home, withLogState({}));
    try {
      expect(node.recovered).toEqual({ recorded: 0, unreadable: [] });
      expect(node.log.size).toBe(1);
      const envelope = JSON.parse(Buffer.from(await node.log.entry(0)).toString('utf8'));
      const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
      expect(statement.predicate.outcome).toBe('result');
    } finally {
      await node.close();
    }
  });
});
