import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExecutionPredicate } from '../../src/attest/execution.js';
import type { Member } from '../../src/cluster/member.js';
import { AgentMigrations, type MigrationParts } from '../../src/gateway/runtime/agent-migration.js';
import { InboundTransfers } from '../../src/gateway/runtime/inbound-transfers.js';
import { sealEnvelope } from '../../src/gateway/runtime/migration-envelope.js';
import { TransferKey } from '../../src/gateway/runtime/transfer-key.js';
import type { Timers } from '../../src/gateway/runtime/watchdog.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { freshHome } from '../gateway/service/node-home.js';

const removers: Array<() => void> = [];
afterAll(() => {
  for (const remove of removers) remove();
});

/** The transfer key a gateway on this home derives, read the way a fresh process reads it. */
async function nodeKey(home: { home: string; env: Record<string, string> }): Promise<TransferKey> {
  return TransferKey.derive(KeyStore.open(home.home, home.env).logSigner());
}

/** What a target said about states it dropped: its warnings and the migrations its receipts name. */
interface Said {
  readonly warnings: { message: string; fields: Record<string, unknown> }[];
  readonly receipts: NonNullable<ExecutionPredicate['migration']>[];
}

/** Timers the test fires by hand: what is armed, and after how long. */
interface HandTimers extends Timers {
  readonly armed: Set<{ run: () => void; ms: number }>;
  /** Runs every armed timer due by `ms` from when it was armed (none is left waiting for a real clock). */
  fire(): void;
}

function handTimers(): HandTimers {
  const armed = new Set<{ run: () => void; ms: number }>();
  return {
    armed,
    now: () => 0,
    setTimeout: (run, ms) => {
      const timer = { run, ms };
      armed.add(timer);
      return timer;
    },
    clearTimeout: (handle) => armed.delete(handle as { run: () => void; ms: number }),
    fire: () => {
      for (const timer of [...armed]) {
        armed.delete(timer);
        timer.run();
      }
    },
  };
}

/** The target's side only: accept and restore use the key, the members and the home. */
function migrations(
  key: TransferKey,
  dir: string,
  members: Member[],
  clock: () => number,
  said?: Said,
  timers?: Timers,
): AgentMigrations {
  const unused = () => {
    throw new Error('not used on the receiving side');
  };
  const parts: MigrationParts = {
    nodeId: 'b',
    key,
    runtime: undefined as never,
    receipts: undefined as never,
    members: async () => members,
    owns: () => false,
    handOff: unused,
    handedOver: unused,
    program: unused,
    send: unused,
    inbound: new InboundTransfers(dir),
    clock,
    ...(timers === undefined ? {} : { timers }),
  };
  if (said !== undefined) {
    // The agent as the store has it, and a receipt writer that keeps what each receipt says.
    Object.assign(parts, {
      program: async (did: string) => ({
        did,
        name: 'kept',
        manifest: { name: 'kept' },
        attributes: {},
        code: 'var count = 0;',
      }),
      receipts: {
        execution: async (predicate: ExecutionPredicate) => {
          if (predicate.migration !== undefined) said.receipts.push(predicate.migration);
          return { index: said.receipts.length - 1 };
        },
      },
      warn: (message: string, fields: Record<string, unknown>) => said.warnings.push({ message, fields }),
    });
  }
  return new AgentMigrations(parts);
}

/**
 * Issue 13 (transfer key): a target killed after it took an agent's state and before it
 * started the agent finds the state again in its home after the restart, still sealed to its
 * key; what cannot come back (expired, another node's key) is named, never silently dropped.
 */
describe('migrated state survives a restart of the target', () => {
  const agent = 'did:key:z6MkAgent';
  const state = { count: 7, notes: ['kept'] };
  let now = 1_700_000_000_000;
  const clock = () => now;

  it('derives the same transfer key from the same home in a new process, another from another home', async () => {
    const home = await freshHome('oacp-transfer-');
    const other = await freshHome('oacp-transfer-');
    removers.push(home.remove, other.remove);
    expect((await nodeKey(home)).did).toBe((await nodeKey(home)).did);
    expect((await nodeKey(home)).did).not.toBe((await nodeKey(other)).did);
  });

  it('restores the state accepted before a kill -9 in the next process, once; at rest it stays sealed', async () => {
    const home = await freshHome('oacp-transfer-');
    removers.push(home.remove);
    const dir = join(home.home, 'cluster', 'inbound');
    const source = TransferKey.generate();
    const target = await nodeKey(home);
    const members: Member[] = [
      { id: 'a', url: 'http://127.0.0.1:1/', lease: '1', transferKey: source.did },
      { id: 'b', url: 'http://127.0.0.1:2/', lease: '2', transferKey: target.did },
    ];
    const envelope = await sealEnvelope(
      { agent, source: 'a', target: members[1] as Member, state, issuedAt: now },
      source,
    );
    await migrations(target, dir, members, clock).accept(envelope);
    const [file] = readdirSync(dir);
    expect(readFileSync(join(dir, file as string), 'utf8')).not.toContain('"kept"');

    // The restart: a new process, its key derived again, the source no longer a member.
    now += 5_000;
    const restarted = migrations(await nodeKey(home), dir, [], clock);
    expect(await restarted.waiting(agent)).toMatchObject({
      source: 'a',
      state,
      digest: envelope.stateDigest,
    });
    expect(await restarted.waiting(agent)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names what cannot come back: expired before the node was made owner, or sealed to another node', async () => {
    const home = await freshHome('oacp-transfer-');
    const stranger = await freshHome('oacp-transfer-');
    removers.push(home.remove, stranger.remove);
    const dir = join(home.home, 'cluster', 'inbound');
    const source = TransferKey.generate();
    const target = await nodeKey(home);
    const members: Member[] = [
      { id: 'a', url: 'http://127.0.0.1:1/', lease: '1', transferKey: source.did },
      { id: 'b', url: 'http://127.0.0.1:2/', lease: '2', transferKey: target.did },
    ];
    const seal = () =>
      sealEnvelope({ agent, source: 'a', target: members[1] as Member, state, issuedAt: now }, source);
    const accepted = await seal();
    await migrations(target, dir, members, clock).accept(accepted);
    now += 60_000;
    expect(await migrations(target, dir, [], clock).waiting(agent)).toEqual({
      agent,
      source: 'a',
      stateDigest: accepted.stateDigest,
      reason: 'the migrated state expired before this node was made the owner',
    });

    // The home's kept state read by a process holding another node's key: refused with the reason.
    await migrations(target, dir, members, clock).accept(await seal());
    const foreign = migrations(await nodeKey(stranger), dir, [], clock);
    expect(await foreign.waiting(agent)).toMatchObject({
      reason: expect.stringMatching(/does not decrypt with this node transfer key/),
    });
  });

  it('says a state dropped while this node was never made the owner (expired, or replaced by a newer one), once: a warning and a restored:false receipt', async () => {
    const home = await freshHome('oacp-transfer-');
    removers.push(home.remove);
    const dir = join(home.home, 'cluster', 'inbound');
    const source = TransferKey.generate();
    const target = await nodeKey(home);
    const members: Member[] = [
      { id: 'a', url: 'http://127.0.0.1:1/', lease: '1', transferKey: source.did },
      { id: 'b', url: 'http://127.0.0.1:2/', lease: '2', transferKey: target.did },
    ];
    const seal = (of: string, kept: Record<string, unknown>) =>
      sealEnvelope(
        { agent: of, source: 'a', target: members[1] as Member, state: kept, issuedAt: now },
        source,
      );
    const said: Said = { warnings: [], receipts: [] };
    const node = migrations(target, dir, members, clock, said);
    const expired = await seal(agent, state);
    await node.accept(expired);
    // The agent is placed elsewhere; 30 s later this node takes another agent's state.
    now += 60_000;
    const other = 'did:key:z6MkOther';
    const first = await seal(other, { count: 1 });
    await node.accept(first);
    // ...and a newer state of that agent replaces the first before the node owns it.
    await node.accept(await seal(other, { count: 2 }));
    await expect.poll(() => said.receipts.length).toBe(2);
    expect(said.receipts).toEqual(
      expect.arrayContaining([
        { direction: 'in', source: 'a', target: 'b', stateDigest: expired.stateDigest, restored: false },
        { direction: 'in', source: 'a', target: 'b', stateDigest: first.stateDigest, restored: false },
      ]),
    );
    expect(said.warnings.map((w) => [w.message, w.fields.agent, w.fields.stateDigest])).toEqual(
      expect.arrayContaining([
        ['migrated state not restored', agent, expired.stateDigest],
        ['migrated state not restored', other, first.stateDigest],
      ]),
    );
    expect(said.warnings).toHaveLength(2);
    // Said once: the home no longer holds the expired state, so no later start says it again.
    expect(await migrations(target, dir, members, clock, said).waiting(agent)).toBeUndefined();
    expect(said.warnings).toHaveLength(2);
  });

  it('says an expiry when it happens, on a node that takes no other state and is never made the owner: one timer for the earliest, none once nothing is kept, none after close', async () => {
    const home = await freshHome('oacp-transfer-');
    removers.push(home.remove);
    const dir = join(home.home, 'cluster', 'inbound');
    const source = TransferKey.generate();
    const target = await nodeKey(home);
    const members: Member[] = [
      { id: 'a', url: 'http://127.0.0.1:1/', lease: '1', transferKey: source.did },
      { id: 'b', url: 'http://127.0.0.1:2/', lease: '2', transferKey: target.did },
    ];
    const seal = (of: string) =>
      sealEnvelope({ agent: of, source: 'a', target: members[1] as Member, state, issuedAt: now }, source);
    const said: Said = { warnings: [], receipts: [] };
    const timers = handTimers();
    const node = migrations(target, dir, members, clock, said, timers);
    const first = await seal('did:key:z6MkFirst');
    await node.accept(first);
    now += 10_000;
    const second = await seal('did:key:z6MkSecond');
    await node.accept(second);
    // One timer, for the first state's end (30 s after it was taken, 20 s from now).
    expect([...timers.armed].map((t) => t.ms)).toEqual([20_001]);

    // Nothing else happens on this node: its window passes, and the timer alone says it.
    now += 20_001;
    timers.fire();
    await expect.poll(() => said.receipts.length).toBe(1);
    expect(said.receipts).toEqual([
      { direction: 'in', source: 'a', target: 'b', stateDigest: first.stateDigest, restored: false },
    ]);
    expect(said.warnings.map((w) => [w.message, w.fields.agent, w.fields.reason])).toEqual([
      [
        'migrated state not restored',
        'did:key:z6MkFirst',
        'the migrated state expired before this node was made the owner',
      ],
    ]);
    expect(readdirSync(dir)).toHaveLength(1);
    // Armed again for the second; when it fires, nothing is kept and nothing is armed.
    expect([...timers.armed].map((t) => t.ms)).toEqual([10_000]);
    now += 10_000;
    timers.fire();
    await expect.poll(() => said.receipts.length).toBe(2);
    expect(said.receipts[1]).toMatchObject({ stateDigest: second.stateDigest, restored: false });
    expect(readdirSync(dir)).toEqual([]);
    expect(timers.armed.size).toBe(0);

    // Closed (the node leaves) with a state kept: no timer outlives it; the home keeps the state.
    await node.accept(await seal('did:key:z6MkThird'));
    expect(timers.armed.size).toBe(1);
    node.close();
    expect(timers.armed.size).toBe(0);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(said.warnings).toHaveLength(2);
  });

  it('reads the home at start-up: what expired while the gateway was down is said and removed then, the rest is kept for what is left of its window', async () => {
    const home = await freshHome('oacp-transfer-');
    removers.push(home.remove);
    const dir = join(home.home, 'cluster', 'inbound');
    const source = TransferKey.generate();
    const target = await nodeKey(home);
    const members: Member[] = [
      { id: 'a', url: 'http://127.0.0.1:1/', lease: '1', transferKey: source.did },
      { id: 'b', url: 'http://127.0.0.1:2/', lease: '2', transferKey: target.did },
    ];
    const seal = (of: string) =>
      sealEnvelope({ agent: of, source: 'a', target: members[1] as Member, state, issuedAt: now }, source);
    const before = migrations(target, dir, members, clock);
    const old = await seal('did:key:z6MkOld');
    await before.accept(old);
    now += 20_000;
    const recent = await seal('did:key:z6MkRecent');
    await before.accept(recent);
    before.close();
    // A file that is not a kept envelope (torn, edited): removed and named, never read as state.
    writeFileSync(join(dir, 'torn.json'), '{"envelope":');

    // Down for 15 s: the old state's window ended meanwhile, the recent one has 15 s left.
    now += 15_000;
    const said: Said = { warnings: [], receipts: [] };
    const timers = handTimers();
    const restarted = migrations(await nodeKey(home), dir, [], clock, said, timers);
    await restarted.recover();
    expect(said.receipts).toEqual([
      { direction: 'in', source: 'a', target: 'b', stateDigest: old.stateDigest, restored: false },
    ]);
    expect(said.warnings.map((w) => [w.fields.agent ?? w.fields.file, w.fields.reason])).toEqual(
      expect.arrayContaining([
        ['torn.json', expect.stringMatching(/not a kept migration envelope/)],
        ['did:key:z6MkOld', 'the migrated state expired before this node was made the owner'],
      ]),
    );
    expect(said.warnings).toHaveLength(2);
    expect(readdirSync(dir)).toHaveLength(1);
    expect([...timers.armed].map((t) => t.ms)).toEqual([15_001]);

    // Never placed here: said when its window ends, and the home is empty.
    now += 15_001;
    timers.fire();
    await expect.poll(() => said.receipts.length).toBe(2);
    expect(said.receipts[1]).toMatchObject({ stateDigest: recent.stateDigest, restored: false });
    expect(readdirSync(dir)).toEqual([]);

    // Placed here within its window instead: it comes back from memory, once.
    const again = await seal('did:key:z6MkAgain');
    const taker = migrations(target, dir, members, clock);
    await taker.accept(again);
    taker.close();
    now += 1_000;
    const third = migrations(await nodeKey(home), dir, [], clock, said, handTimers());
    await third.recover();
    expect(await third.waiting('did:key:z6MkAgain')).toMatchObject({ digest: again.stateDigest });
    expect(readdirSync(dir)).toEqual([]);
    expect(said.receipts).toHaveLength(2);
  });
});
