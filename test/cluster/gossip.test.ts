import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { verifyCosignatures } from '../../src/log/cosignature.js';
import {
  adminKey,
  append,
  cli,
  type Home,
  makeHome,
  removeHome,
  startGateway,
  witnessView,
} from './gossip-homes.js';

/**
 * Issue 11 item 4 and issue 13 item 4: real `oacp gateway` processes that list each other in
 * `log.peers` gossip checkpoints on their own, cosign each other's (c2sp tlog-cosignature) and
 * serve the cosignatures with the checkpoint; a node started from a copy of another's home
 * signs a second history under that key, and the peers that see both call it a fork: a
 * security event, counted, and the peer is no longer trusted.
 */
describe('gateways gossip checkpoints and cosign each other', () => {
  const children: ChildProcess[] = [];
  const homes: Home[] = [];
  let a: Home;
  let b: Home;
  let copy: Home;
  let keyA = '';
  let keyB = '';

  beforeAll(async () => {
    a = await makeHome('oacp.test/node-a');
    b = await makeHome('oacp.test/node-b');
    homes.push(a, b);
    await append(a, ['a1', 'a2', 'a3']);
    await append(b, ['b1', 'b2']);
    keyA = await adminKey(a);
    keyB = await adminKey(b);
    children.push(startGateway(a, [b]), startGateway(b, [a]));
  }, 60_000);

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    for (const home of homes) removeHome(home);
  });

  it('cosigns the peer checkpoints it verified, and serves its own with the peer cosignature', async () => {
    await expect
      .poll(async () => (await witnessView(a).catch(() => undefined))?.cosigners ?? [], {
        timeout: 30_000,
        interval: 300,
      })
      .toContain('oacp.test/node-b/witness');
    const viewA = await witnessView(a);
    // The log's own signature and B's Ed25519 cosignature (type 0x04, timestamped) both verify.
    expect(openCheckpoint(viewA.checkpoint, a.logKey).ok).toBe(true);
    const cosigned = verifyCosignatures(viewA.checkpoint, [b.witnessKey]);
    expect(cosigned.ok).toBe(true);
    if (cosigned.ok) expect(cosigned.value[0]?.timestamp).toBeGreaterThan(1_700_000_000);
    // A wrong witness key does not verify it (the positive control above can fail).
    expect(verifyCosignatures(viewA.checkpoint, [a.witnessKey]).ok).toBe(false);
    // GET /v1/log/checkpoint serves the same checkpoint with the cosignature line.
    const served = await (await fetch(`${a.url}/v1/log/checkpoint`)).text();
    expect(verifyCosignatures(served, [b.witnessKey]).ok).toBe(true);
    // B keeps A's checkpoint cosigned by B, and A lists B as a trusted peer.
    expect((await witnessView(b)).cosigned['oacp.test/node-a']).toBeDefined();
    expect(viewA.peers).toEqual([expect.objectContaining({ url: b.url, trusted: true })]);
    // `oacp log cosigned` shows it beside the running gateway, with this node's witness key.
    const shown = cli(a, ['log', 'cosigned', '--config', join(a.home, 'oacp.yaml')]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('by oacp.test/node-b/witness');
    expect(shown.stdout).toContain(`witness key:  ${a.witnessKey}`);
    expect(shown.stdout).toContain('oacp.test/node-b  size 2');
  }, 60_000);

  it('follows a growing log with consistency proofs', async () => {
    await append(a, ['a4', 'a5', 'a6', 'a7']);
    await expect
      .poll(
        async () => {
          const note = (await witnessView(b)).cosigned['oacp.test/node-a'];
          return note === undefined ? 0 : Number(note.split('\n')[1]);
        },
        { timeout: 30_000, interval: 300 },
      )
      .toBe(7);
  }, 60_000);

  it('verifies kept cosignatures again after a restart: an altered one is a security event, never served', async () => {
    // The attack: while A is down, its kept cosigned checkpoint is altered in B's cosignature.
    children[0]?.kill('SIGKILL');
    await new Promise((resolve) => children[0]?.once('exit', resolve));
    const file = join(a.home, 'log-gossip', 'own.cosigned');
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((line) => line.startsWith('\u2014 oacp.test/node-b/witness '));
    expect(at).toBeGreaterThan(0);
    const line = lines[at] as string;
    const flip = line.length - 8;
    const tampered = `${line.slice(0, flip)}${line[flip] === 'A' ? 'B' : 'A'}${line.slice(flip + 1)}`;
    lines[at] = tampered;
    writeFileSync(file, lines.join('\n'));
    // Read beside the stopped gateway, with the configured witness keys: left out, a security line.
    const shown = cli(a, ['log', 'cosigned', '--config', join(a.home, 'oacp.yaml')]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('cosigned:     none yet');
    expect(shown.stdout).toMatch(
      /SECURITY left out: a cosignature by oacp\.test\/node-b\/witness: it does not verify/,
    );
    // Restarted, the gateway counts it and never serves the altered line; gossip collects B's real one again.
    children[0] = startGateway(a, [b]);
    const metrics = async () =>
      (
        await fetch(`${a.url}/metrics`, { headers: { authorization: `Bearer ${keyA}` } }).catch(
          () => undefined,
        )
      )?.text();
    await expect
      .poll(metrics, { timeout: 30_000, interval: 300 })
      .toMatch(/oacp_security_events_total\{[^}]*type="log_cosignature_invalid"[^}]*\} 1/);
    const served = await (await fetch(`${a.url}/v1/log/checkpoint`)).text();
    expect(served).not.toContain(tampered);
    await expect
      .poll(async () => (await witnessView(a).catch(() => undefined))?.cosigners ?? [], {
        timeout: 30_000,
        interval: 300,
      })
      .toContain('oacp.test/node-b/witness');
    const view = await witnessView(a);
    expect(view.checkpoint).not.toContain(tampered);
    expect(verifyCosignatures(view.checkpoint, [b.witnessKey]).ok).toBe(true);
  }, 90_000);

  it('calls a copied home signing another history a fork: a security event, and the peer is no longer trusted', async () => {
    // The attack: A's home copied, then both copies sign different entries at the same sizes.
    copy = await makeHome('oacp.test/node-a', a);
    homes.push(copy);
    await append(copy, ['forged-8', 'forged-9']);
    await append(a, ['a8', 'a9']);
    children.push(startGateway(copy, []));
    // B learns of the copy as one more peer for A's key: restart B with both.
    children[1]?.kill('SIGKILL');
    await new Promise((resolve) => children[1]?.once('exit', resolve));
    children[1] = startGateway(b, [a, copy]);
    await expect
      .poll(async () => (await witnessView(b).catch(() => undefined))?.forks ?? [], {
        timeout: 30_000,
        interval: 300,
      })
      .toHaveLength(1);
    // Two histories under one key: which copy is the forger is unknown, so the key (origin) is
    // no longer trusted on either URL.
    const untrusted = async () =>
      (await witnessView(b)).peers
        .filter((peer) => !peer.trusted)
        .map((peer) => peer.url)
        .sort();
    await expect.poll(untrusted, { timeout: 10_000, interval: 300 }).toEqual([a.url, copy.url].sort());
    const view = await witnessView(b);
    const forked = view.peers.filter((peer) => !peer.trusted);
    expect(view.forks[0]?.reason).toMatch(/fork|two roots|not shown to extend/);
    const metrics = await (
      await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${keyB}` } })
    ).text();
    expect(metrics).toMatch(/oacp_security_events_total\{[^}]*type="log_fork"[^}]*\} 1/);
    // Not trusted again after a restart: the fork is kept durably.
    children[1]?.kill('SIGKILL');
    await new Promise((resolve) => children[1]?.once('exit', resolve));
    children[1] = startGateway(b, [a, copy]);
    await expect
      .poll(async () => (await witnessView(b).catch(() => undefined))?.peers.length ?? 0, {
        timeout: 30_000,
        interval: 300,
      })
      .toBe(2);
    const after = await witnessView(b);
    expect(after.peers.find((peer) => peer.url === forked[0]?.url)?.trusted).toBe(false);
    const shown = cli(b, ['log', 'cosigned']);
    expect(shown.stdout).toMatch(/forks seen \(1\):\n {2}SECURITY .*oacp\.test\/node-a/);
  }, 120_000);
});
