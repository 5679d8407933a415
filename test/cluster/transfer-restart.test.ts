import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Member } from '../../src/cluster/member.js';
import { AgentMigrations, type MigrationParts } from '../../src/gateway/runtime/agent-migration.js';
import { InboundTransfers } from '../../src/gateway/runtime/inbound-transfers.js';
import { sealEnvelope } from '../../src/gateway/runtime/migration-envelope.js';
import { TransferKey } from '../../src/gateway/runtime/transfer-key.js';
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

/** The target's side only: accept and restore use the key, the members and the home. */
function migrations(key: TransferKey, dir: string, members: Member[], clock: () => number): AgentMigrations {
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
  };
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
});
