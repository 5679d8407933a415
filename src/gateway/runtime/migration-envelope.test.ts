import { describe, expect, it } from 'vitest';
import type { Member } from '../../cluster/member.js';
import { openEnvelope, sealEnvelope } from './migration-envelope.js';
import { TransferKey } from './transfer-key.js';

const source = TransferKey.generate();
const target = TransferKey.generate();
const intruder = TransferKey.generate();
const members: Member[] = [
  { id: 'a', url: 'http://127.0.0.1:1/', lease: '1', transferKey: source.did },
  { id: 'b', url: 'http://127.0.0.1:2/', lease: '2', transferKey: target.did },
];
const now = 1_700_000_000_000;
const state = { count: 3, notes: ['x'] };
const seal = (key = source, issuedAt = now) =>
  sealEnvelope({ agent: 'did:key:z6Mk', source: 'a', target: members[1] as Member, state, issuedAt }, key);
const open = (input: unknown, self = { id: 'b', key: target, members, now }) => openEnvelope(input, self);

describe('migration envelopes', () => {
  it('opens on the target: the state comes back with its digest', async () => {
    const { envelope, state: opened } = await open(await seal());
    expect(opened).toEqual(state);
    expect(envelope).toMatchObject({ source: 'a', target: 'b' });
    expect(JSON.stringify(envelope)).not.toContain('"count"');
  });

  it('refuses an envelope for another node, a stale one, or one signed by a key no live member publishes', async () => {
    await expect(open(await seal(), { id: 'c', key: target, members, now })).rejects.toThrow(
      /addressed to b, this is c/,
    );
    await expect(open(await seal(source, now - 60_000))).rejects.toThrow(/stale/);
    await expect(open(await seal(intruder))).rejects.toThrow(/the signature is not a's/);
    const gone = members.filter((m) => m.id !== 'a');
    await expect(open(await seal(), { id: 'b', key: target, members: gone, now })).rejects.toThrow(
      /a is not a live member/,
    );
  });

  it('refuses a tampered envelope: changed facts, state sealed to someone else, malformed', async () => {
    const envelope = await seal();
    await expect(open({ ...envelope, agent: 'did:key:other' })).rejects.toThrow(/signature/);
    await expect(open({ ...envelope, stateDigest: '0'.repeat(64) })).rejects.toThrow(/signature/);
    await expect(open(envelope, { id: 'b', key: intruder, members, now })).rejects.toThrow(
      /does not decrypt/,
    );
    await expect(open({ ...envelope, extra: 1 })).rejects.toThrow(/malformed/);
    await expect(open('nope')).rejects.toMatchObject({ code: 'CLUSTER_MIGRATION_INVALID' });
  });

  it('refuses to seal more than 1 MiB of state, or to a node without a transfer key', async () => {
    const big = { blob: 'x'.repeat(512 * 1024) };
    await expect(
      sealEnvelope(
        { agent: 'x', source: 'a', target: members[1] as Member, state: big, issuedAt: now },
        source,
      ),
    ).rejects.toThrow(/at most 524288 move/);
    const keyless: Member = { id: 'c', url: 'http://127.0.0.1:3/', lease: '3' };
    await expect(
      sealEnvelope({ agent: 'x', source: 'a', target: keyless, state, issuedAt: now }, source),
    ).rejects.toThrow(/publishes no transfer key/);
  });
});
