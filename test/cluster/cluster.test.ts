import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterKeys } from '../../src/cluster/keys.js';
import { oacp } from '../cli/harness.js';
import { type EtcdServer, etcdUnavailable, type Relay, startEtcd, startRelay } from './etcd-server.js';

const REPO = join(import.meta.dirname, '..', '..');
const VITE_NODE = join(REPO, 'node_modules', 'vite-node', 'vite-node.mjs');
const CHILD = join(import.meta.dirname, 'fixtures', 'cluster-child.ts');
const TTL_MS = 2_000;
/** A dead or cut-off node's agents must be owned elsewhere within: its lease TTL, an election, a placement. */
const REPLACE_BOUND_MS = TTL_MS + 2_000 /* leader election TTL */ + 4_000;
/** etcd down 1 s and back: its start, the old leases' TTL (etcd renews them on start), a rejoin, an election, a placement. */
const RESTART_BOUND_MS = 1_000 + 5_000 + TTL_MS + 1_000 + REPLACE_BOUND_MS;

const unavailable = etcdUnavailable();
if (unavailable !== undefined) console.warn(`cluster tests skipped: ${unavailable}`);

interface Node {
  readonly id: string;
  readonly process: ChildProcess;
  readonly relay: Relay;
  readonly owned: Set<string>;
  readonly lines: string[];
  readonly exited: Promise<void>;
}

function spawnNode(id: string, relay: Relay, wantedFile: string): Node {
  const child = spawn(process.execPath, [VITE_NODE, CHILD, relay.endpoint, id, wantedFile], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const node: Node = {
    id,
    process: child,
    relay,
    owned: new Set(),
    lines: [],
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      node.lines.push(line);
      const own = new RegExp(`^${id}: own (\\S+)$`).exec(line);
      if (own?.[1] !== undefined) node.owned.add(own[1]);
      const disown = new RegExp(`^${id}: disown (\\S+)$`).exec(line);
      if (disown?.[1] !== undefined) node.owned.delete(disown[1]);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => node.lines.push(`stderr: ${chunk}`));
  return node;
}

/** Every agent -> the nodes that say they own it. */
function ownership(nodes: readonly Node[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const node of nodes)
    for (const agent of node.owned) map.set(agent, [...(map.get(agent) ?? []), node.id]);
  return map;
}

function placedOnce(nodes: readonly Node[], agents: readonly string[]): boolean {
  const map = ownership(nodes);
  return (
    agents.every((agent) => map.get(agent)?.length === 1) && [...map.keys()].every((a) => agents.includes(a))
  );
}

/**
 * Three cluster nodes, each its own process, on a real etcd started here.
 * Each node reaches etcd through its own relay, so a test can cut one off.
 */
describe.skipIf(unavailable !== undefined)('cluster placement on etcd', () => {
  let etcd: EtcdServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'oacp-cluster-'));
  const wantedFile = join(dir, 'wanted.json');
  const agents = Array.from({ length: 12 }, (_, i) => `agent-${i}`);
  const nodes: Node[] = [];
  /** Nodes whose relay a test cut: alive, but never in the cluster again. */
  const cutOff = new Set<Node>();
  const want = (list: readonly string[]) => writeFileSync(wantedFile, JSON.stringify(list));
  /** Every moment (as the nodes report it) an agent had two owners. */
  const doubles: string[] = [];
  /** Nodes a test stopped (SIGSTOP): what they said they owned before is stale, not a second owner. */
  const paused = new Set<Node>();
  const sampler = setInterval(() => {
    for (const [agent, owners] of ownership(nodes.filter((n) => !paused.has(n))))
      if (owners.length > 1) doubles.push(`${agent}: ${owners}`);
  }, 10);

  beforeAll(async () => {
    etcd = await startEtcd();
    want(agents);
    const endpoint = etcd.endpoint;
    const relays = await Promise.all(['a', 'b', 'c'].map(() => startRelay(endpoint)));
    // All three join at once: they race for leadership and placement.
    nodes.push(...['a', 'b', 'c'].map((id, i) => spawnNode(`node-${id}`, relays[i] as Relay, wantedFile)));
  }, 60_000);

  afterAll(async () => {
    clearInterval(sampler);
    for (const node of nodes) node.process.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('places every running agent on exactly one node when three nodes join at once', async () => {
    await expect.poll(() => placedOnce(nodes, agents), { timeout: 60_000, interval: 100 }).toBe(true);
    // Never two owners at any moment: no agent was owned by two nodes in the logs either.
    const map = ownership(nodes);
    expect([...map.values()].filter((owners) => owners.length > 1)).toEqual([]);
  }, 90_000);

  it('shows members, leader and placements with oacp cluster status', async () => {
    // Under load a lease renewal or a re-placement can be in flight at any one instant: wait for
    // the state asserted below (bounded), then check every line of it.
    const read = () => oacp(['cluster', 'status', '--etcd', etcd?.endpoint ?? '']);
    const settled = (out: string) =>
      /^leader: node-[abc]$/m.test(out) &&
      out.includes('members (3):') &&
      out.includes('placements (12):') &&
      agents.every((agent) => new RegExp(`^  ${agent} -> node-[abc]$`, 'm').test(out));
    let status = await read();
    await expect
      .poll(
        async () => {
          status = await read();
          return status.code === 0 && settled(status.stdout);
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBe(true);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^leader: node-[abc]$/m);
    expect(status.stdout).toContain('members (3):');
    expect(status.stdout).toContain('placements (12):');
    for (const agent of agents) expect(status.stdout).toMatch(new RegExp(`^  ${agent} -> node-[abc]$`, 'm'));
    const unreachable = await oacp(['cluster', 'status', '--etcd', 'http://127.0.0.1:9']);
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stderr).toMatch(
      /^oacp: cannot read the cluster from etcd at http:\/\/127\.0\.0\.1:9: /,
    );
    expect(unreachable.stderr.split('\n')).toHaveLength(1);
    const bad = await oacp(['cluster', 'status', '--etcd', 'etcd.local']);
    expect(bad).toMatchObject({ code: 2, stderr: 'oacp: --etcd: "etcd.local" is not an http(s):// URL' });
  }, 45_000);

  it('re-places the agents of a node killed with -9 on the live nodes, within the lease TTL and a placement', async () => {
    const victim = [...nodes].sort((a, b) => b.owned.size - a.owned.size)[0] as Node;
    const orphans = [...victim.owned];
    expect(orphans.length).toBeGreaterThan(0);
    victim.process.kill('SIGKILL');
    await victim.exited;
    victim.owned.clear();
    const live = nodes.filter((n) => n !== victim);
    await expect
      .poll(() => placedOnce(live, agents), { timeout: REPLACE_BOUND_MS, interval: 100 })
      .toBe(true);
  }, 30_000);

  it('carries a lifecycle change made on a non-owner to the owner', async () => {
    const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
    const owner = live.find((n) => n.owned.size > 0) as Node;
    const other = live.find((n) => n !== owner) as Node;
    const agent = [...owner.owned][0] as string;
    // Suspended on the other node: the store no longer lists it as running, and that node says so.
    want(agents.filter((a) => a !== agent));
    other.process.stdin?.write(`notify ${agent}\n`);
    await expect.poll(() => owner.owned.has(agent), { timeout: 5_000, interval: 50 }).toBe(false);
    expect(ownership(live).get(agent)).toBeUndefined();
    // Resumed: placed again on exactly one node.
    want(agents);
    other.process.stdin?.write(`notify ${agent}\n`);
    await expect.poll(() => placedOnce(live, agents), { timeout: 5_000, interval: 50 }).toBe(true);
  }, 30_000);

  it('leaves no key under /oacp/ for an agent no longer wanted: its owner key, its last hand-over and its lifecycle key go', async () => {
    const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
    const other = live[0] as Node;
    const client = new Etcd3({ hosts: [String(etcd?.endpoint)] });
    const notified = (agent: string) =>
      expect
        .poll(() => other.lines.includes(`${other.id}: notified ${agent}`), { timeout: 10_000, interval: 50 })
        .toBe(true);
    const keysOf = async (agent: string) =>
      (await client.getAll().prefix('/oacp/').keys()).filter((key) => key.endsWith(`/${agent}`));
    try {
      // One agent placed and moved once (its hand-over record written, as ClusterNode.handOff does).
      const moved = 'retired-moved';
      want([...agents, moved]);
      other.process.stdin?.write(`notify ${moved}\n`);
      await notified(moved);
      await expect.poll(() => ownership(live).get(moved)?.length, { timeout: 10_000, interval: 50 }).toBe(1);
      const handOver = { source: 'node-a', target: 'node-b', stateDigest: 'a'.repeat(64), issuedAt: 1 };
      await client.put(clusterKeys().migration(moved)).value(JSON.stringify(handOver));
      expect(await keysOf(moved)).toHaveLength(3);
      // Another that was announced but never placed (retired before it ran), with a hand-over left over.
      const never = 'retired-never';
      await client.put(clusterKeys().migration(never)).value(JSON.stringify(handOver));
      other.process.stdin?.write(`notify ${never}\n`);
      await notified(never);

      // Both retired: the store no longer lists them, and a node says so.
      want(agents);
      other.process.stdin?.write(`notify ${moved}\n`);
      await expect.poll(() => keysOf(moved), { timeout: 10_000, interval: 100 }).toEqual([]);
      await expect.poll(() => keysOf(never), { timeout: 10_000, interval: 100 }).toEqual([]);
      await expect.poll(() => ownership(live).get(moved), { timeout: 5_000, interval: 50 }).toBeUndefined();
      // The agents still wanted keep their placements.
      await expect.poll(() => placedOnce(live, agents), { timeout: 5_000, interval: 50 }).toBe(true);
    } finally {
      client.close();
    }
  }, 40_000);

  it('regains every placement after the etcd member is killed and restarted, never with two owners', async () => {
    const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
    await expect
      .poll(() => placedOnce(live, agents), { timeout: REPLACE_BOUND_MS, interval: 100 })
      .toBe(true);
    doubles.length = 0;
    await etcd?.restart(1_000);
    await expect
      .poll(() => placedOnce(live, agents), { timeout: RESTART_BOUND_MS, interval: 100 })
      .toBe(true);
    expect(doubles).toEqual([]);
    // The nodes came back as members (a rejoin with a new lease), and a leader was elected again.
    const status = await oacp(['cluster', 'status', '--etcd', etcd?.endpoint ?? '']);
    expect(status.stdout).toContain(`members (${live.length}):`);
    expect(status.stdout).toMatch(/^leader: node-[abc]$/m);
  }, 60_000);

  it('stops a partitioned node from serving its agents, and the rest take them over', async () => {
    const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
    const cut = live.find((n) => n.owned.size > 0) as Node;
    const rest = live.filter((n) => n !== cut);
    const lost = [...cut.owned];
    cutOff.add(cut);
    await cut.relay.cut();
    // The cut-off node gives its agents up on its own, though its process lives on.
    await expect.poll(() => cut.owned.size, { timeout: REPLACE_BOUND_MS, interval: 100 }).toBe(0);
    expect(cut.lines.some((line) => line.includes('stopped serving'))).toBe(true);
    expect(cut.process.exitCode).toBeNull();
    await expect
      .poll(() => placedOnce(rest, agents), { timeout: REPLACE_BOUND_MS, interval: 100 })
      .toBe(true);
    for (const agent of lost) expect(ownership(rest).get(agent)).toHaveLength(1);
    expect(doubles).toEqual([]);
  }, 30_000);

  it('attack: a node whose wall clock is stepped back an hour, then cut off, still stops serving within its TTL', async () => {
    // Two more nodes, so that one stays beside the one whose clock steps back.
    const endpoint = etcd?.endpoint ?? '';
    for (const id of ['node-d', 'node-e']) nodes.push(spawnNode(id, await startRelay(endpoint), wantedFile));
    const live = nodes.filter(
      (n) => n.process.exitCode === null && n.process.signalCode === null && !cutOff.has(n),
    );
    expect(live.length).toBeGreaterThanOrEqual(2);
    await expect
      .poll(() => live.every((n) => n.lines.includes(`${n.id}: ready`)), { timeout: 20_000, interval: 100 })
      .toBe(true);
    await expect
      .poll(() => placedOnce(live, agents), { timeout: REPLACE_BOUND_MS, interval: 100 })
      .toBe(true);
    const stepped = live.find((n) => n.owned.size > 0) as Node;
    const rest = live.filter((n) => n !== stepped);
    stepped.process.stdin?.write('clock-back\n');
    await expect
      .poll(() => stepped.lines.includes(`${stepped.id}: clock back`), { timeout: 5_000 })
      .toBe(true);
    await stepped.relay.cut();
    // Counted by a wall clock an hour behind, its deadline would be an hour away while etcd gives its agents
    // away after one TTL: two owners. Counted by a monotonic clock it gives them up first.
    await expect.poll(() => stepped.owned.size, { timeout: REPLACE_BOUND_MS, interval: 100 }).toBe(0);
    await expect
      .poll(() => placedOnce(rest, agents), { timeout: REPLACE_BOUND_MS, interval: 100 })
      .toBe(true);
    expect(doubles).toEqual([]);
  }, 40_000);

  it('attack: an owner paused (SIGSTOP) past its lease while another node takes its agents: resumed, it answers that it owns nothing before any timer runs', async () => {
    const endpoint = etcd?.endpoint ?? '';
    for (const id of ['node-f', 'node-g']) nodes.push(spawnNode(id, await startRelay(endpoint), wantedFile));
    const live = nodes.filter(
      (n) => n.process.exitCode === null && n.process.signalCode === null && !cutOff.has(n),
    );
    await expect
      .poll(() => live.every((n) => n.lines.includes(`${n.id}: ready`)), { timeout: 20_000, interval: 100 })
      .toBe(true);
    await expect
      .poll(() => placedOnce(live, agents), { timeout: REPLACE_BOUND_MS, interval: 100 })
      .toBe(true);
    const stopped = live.find((n) => n.owned.size > 0) as Node;
    const rest = live.filter((n) => n !== stopped);
    const held = [...stopped.owned];
    const thaw = join(dir, 'thaw');
    // Its event loop held first, so that on waking no timer of its own can run before it is asked.
    stopped.process.stdin?.write(`freeze ${thaw}\n`);
    await expect.poll(() => stopped.lines.includes(`${stopped.id}: frozen`), { timeout: 5_000 }).toBe(true);
    stopped.process.kill('SIGSTOP');
    paused.add(stopped);
    try {
      // Its lease lapses in etcd; the others take every agent it held.
      await expect
        .poll(() => held.every((agent) => ownership(rest).get(agent)?.length === 1), {
          timeout: REPLACE_BOUND_MS + TTL_MS,
          interval: 100,
        })
        .toBe(true);
    } finally {
      stopped.process.kill('SIGCONT');
      writeFileSync(thaw, '');
    }
    // Asked before any timer ran: the lease deadline has passed, so it owns nothing, serves nothing, leads
    // nothing (no log write, no quota granted as owner), though no event told it yet.
    await expect
      .poll(() => stopped.lines.find((line) => line.startsWith(`${stopped.id}: query `)), { timeout: 5_000 })
      .toBe(`${stopped.id}: query owned=0 serving=false leader=false`);
    await expect.poll(() => stopped.owned.size, { timeout: 5_000, interval: 100 }).toBe(0);
    paused.delete(stopped);
    expect(stopped.lines.some((line) => line.includes('stopped serving: no keepalive reached etcd'))).toBe(
      true,
    );
    await expect
      .poll(() => placedOnce(live, agents), { timeout: REPLACE_BOUND_MS, interval: 100 })
      .toBe(true);
    expect(doubles).toEqual([]);
  }, 60_000);
});
