import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_HOPS } from '../../src/gateway/http/forward.js';
import { oacp } from '../cli/harness.js';
import { postgresUnavailable } from '../store/postgres-server.js';
import {
  type ClusterGateways,
  moveOwnerUnheard,
  placeAgent,
  startClusterGateways,
} from './cluster-gateways.js';
import { etcdUnavailable } from './etcd-server.js';

const unavailable = etcdUnavailable() ?? postgresUnavailable();
if (unavailable !== undefined) console.warn(`migration tests skipped: ${unavailable}`);
const PLACE_BOUND_MS = 15_000;
const TTL_SECONDS = 4;

/** A standard-tier agent whose state between runs is a global counter. */
const COUNTER =
  'var count = 0; var seen = []; function main(input) { count += 1; seen.push(input); return count; }';

interface Migration {
  direction: 'out' | 'in';
  source: string;
  target: string;
  stateDigest: string;
}

/**
 * `oacp agent migrate` and drain on SIGTERM, with three `oacp gateway`
 * processes on a real PostgreSQL and etcd: the agent's in-sandbox state
 * moves intact, runs during the move are answered once each, a dead target
 * is refused with nothing lost, and a SIGTERM moves the owner's agents.
 */
describe.skipIf(unavailable !== undefined)('agent migration between gateways (PostgreSQL + etcd)', () => {
  let cluster: ClusterGateways;
  let agentId = '';
  const client = (i: number) => cluster.client(i);
  const live = () => cluster.live();
  const runningOn = (id: string) => cluster.runningOn(id);
  const migrationOf = async (i: number, index: number): Promise<Migration | undefined> => {
    const { envelope } = await client(i).receipt(index);
    const statement = JSON.parse(Buffer.from(String(envelope.payload), 'base64').toString('utf8'));
    return statement.predicate?.migration;
  };
  const owner = async () => {
    await expect
      .poll(async () => (await runningOn(agentId)).length, { timeout: 10_000, interval: 100 })
      .toBe(1);
    return (await runningOn(agentId))[0] as number;
  };

  /** A run as a node hands it on at its last hop (x-oacp-forwarded: MAX_HOPS): never forwarded again. */
  const lastHop = (i: number, input: string) =>
    fetch(new URL(`/v1/agents/${agentId}/run`, cluster.gateways[i]?.url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${cluster.key}`,
        'content-type': 'application/json',
        'x-oacp-forwarded': String(MAX_HOPS),
      },
      body: JSON.stringify({ input }),
    });

  beforeAll(async () => {
    // Each gateway reaches etcd through its own relay, so a test can cut one off. A 4 s lease:
    // under a loaded CI machine a 2 s lease lapsed on its own (keepalives starved) and the agent
    // moved away mid-test, which is not what these tests are about.
    cluster = await startClusterGateways({ name: 'migrate', ttlSeconds: TTL_SECONDS, relays: true });
    agentId = await placeAgent(cluster, { name: 'counter', code: COUNTER, boundMs: PLACE_BOUND_MS });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  // A failure under load is read from what the nodes said (drained, not drained, lease lapsed).
  beforeEach(({ onTestFailed }) => onTestFailed(() => console.error(cluster?.logs())));

  it('moves the agent with its state intact; runs sent during the move each run exactly once', async () => {
    for (const i of [0, 1, 2])
      expect((await client(i).runAgent(agentId, { input: `warm-${i}` })).value).toBe(i + 1);
    const source = await owner();
    const target = live().find((i) => i !== source) as number;
    const bystander = live().find((i) => i !== source && i !== target) as number;

    // Asked of a node that does not run it (forwarded to the owner), with runs racing the move.
    const migrating = client(bystander).migrateAgent(agentId, `gw-${target}`);
    const racing = [0, 1, 2, 0, 1].map((i, n) => client(i).runAgent(agentId, { input: `race-${n}` }));
    const moved = await migrating;
    const raced = (await Promise.all(racing)).map((r) => r.value as number);
    expect(moved).toMatchObject({ agent: agentId, source: `gw-${source}`, target: `gw-${target}` });
    expect(moved.stateDigest).toMatch(/^[0-9a-f]{64}$/);
    // Five runs, five different counts: none lost to the move, none run twice.
    expect([...raced].sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8]);

    await expect.poll(() => runningOn(agentId), { timeout: 10_000, interval: 100 }).toEqual([target]);
    expect((await client(source).runAgent(agentId, { input: 'after' })).value).toBe(9);

    // The source's receipt names both nodes and the state's digest; so does the target's.
    expect(await migrationOf(source, moved.receipt.index)).toEqual({
      direction: 'out',
      source: `gw-${source}`,
      target: `gw-${target}`,
      stateDigest: moved.stateDigest,
    });
    const last = (await client(target).runAgent(agentId, { input: 'last' })).receipt.index;
    const inbound = [];
    for (let index = 0; index <= last; index++) {
      const migration = await migrationOf(target, index);
      if (migration !== undefined) inbound.push(migration);
    }
    expect(inbound).toEqual([
      { direction: 'in', source: `gw-${source}`, target: `gw-${target}`, stateDigest: moved.stateDigest },
    ]);
  }, 120_000);

  it('a run forwarded a second time reaches the new owner before its etcd watch names it the owner: it waits for the start there and runs once', async () => {
    const source = await owner();
    const target = live().find((i) => i !== source) as number;
    const release = await moveOwnerUnheard(cluster, agentId, source, target);
    try {
      // The run as the source hands it on after such a move: its second hop, to the owner etcd names.
      const run = lastHop(target, 'second-hop');
      // The target hears of its placement a second later: well within its lease (a TTL of 4 s),
      // so it keeps serving. Nothing here waits on this second; it is the length of the fault.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      release();
      const answer = await run;
      const body = (await answer.json()) as { value?: unknown };
      // Waited for the start and ran there, once; never "not running; start it first".
      expect(answer.status, JSON.stringify(body)).toBe(200);
      // A re-placement carries no state: a fresh sandbox counts from one.
      expect(body.value).toBe(1);
      await expect.poll(() => runningOn(agentId), { timeout: 10_000, interval: 100 }).toEqual([target]);
      expect((await client(source).runAgent(agentId, { input: 'next' })).value).toBe(2);
      // At its last hop on a node that does not run it: a 503 saying so, not forwarded a third time.
      const bystander = live().find((i) => i !== source && i !== target) as number;
      const late = await lastHop(bystander, 'third-hop');
      expect(late.status).toBe(503);
      expect(await late.json()).toMatchObject({
        error: {
          code: 'CLUSTER_NOT_OWNER',
          message: expect.stringMatching(/moved on to another node .* did not happen; retry/),
        },
      });
      expect((await client(target).runAgent(agentId, { input: 'then' })).value).toBe(3);
    } finally {
      release();
    }
  }, 60_000);

  it('refuses a migration to a node that is not a live member, or is dead, and the agent keeps its state', async () => {
    const source = await owner();
    const before = (await client(source).runAgent(agentId, { input: 'before' })).value as number;
    await expect(client(source).migrateAgent(agentId, 'gw-9')).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/node gw-9 is not a live member of the cluster \(live: .*gw-/),
    });
    // The attack: kill the target, then ask for the move before its lease has even lapsed.
    const dead = live().find((i) => i !== source) as number;
    await cluster.kill(dead);
    await expect(client(source).migrateAgent(agentId, `gw-${dead}`)).rejects.toMatchObject({ status: 409 });
    expect(await runningOn(agentId)).toEqual([source]);
    expect((await client(source).runAgent(agentId, { input: 'still' })).value).toBe(before + 1);
    // Through the CLI, once the lease is gone: refused with a one-line reason, non-zero exit.
    await new Promise((resolve) => setTimeout(resolve, TTL_SECONDS * 1000 + 1_000));
    const cli = await oacp(
      ['agent', 'migrate', agentId, '--to', `gw-${dead}`, '--gateway', String(cluster.gateways[source]?.url)],
      { OACP_API_KEY: cluster.key },
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/migration refused \(409\): node gw-\d is not a live member/);
    expect(cli.stderr).not.toContain(cluster.key);
  }, 60_000);

  it('drains on SIGTERM: the owner moves its agent to the live node, state intact, then exits', async () => {
    const source = await owner();
    const other = live().find((i) => i !== source) as number;
    const before = (await client(other).runAgent(agentId, { input: 'pre-drain' })).value as number;
    await cluster.kill(source, 'SIGTERM');
    // Drained, not re-placed: it runs on the other node with its count (a fresh sandbox would say 1).
    await expect.poll(() => runningOn(agentId), { timeout: 10_000, interval: 100 }).toEqual([other]);
    expect((await client(other).runAgent(agentId, { input: 'post-drain' })).value).toBe(before + 1);
  }, 60_000);

  it.each(['killed', 'paused (SIGSTOP)'] as const)(
    'attack: etcd %s as a migration is asked, for longer than the lease TTL: the agent runs on one node or none at every moment, the migration ends with a clear answer, and one node runs it once etcd is back',
    async (fault) => {
      const source = await owner();
      const target = live().find((i) => i !== source) as number;
      const etcd = cluster.etcd;
      if (etcd === undefined) throw new Error('the test started its own etcd');
      const seen: number[][] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const on = await runningOn(agentId).catch(() => undefined);
          if (on !== undefined) seen.push(on);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const migrating = client(source)
        .migrateAgent(agentId, `gw-${target}`)
        .then(
          (moved) => ({ moved: moved.target }),
          (error: { status?: number; message?: string }) => ({
            status: error.status,
            message: error.message,
          }),
        );
      // Down longer than a lease: every node's lease lapses while the move is under way.
      const outage = TTL_SECONDS * 1000 + 2_000;
      const restarted = fault === 'killed' ? etcd.restart(outage) : etcd.pause(outage);
      const asked = Date.now();
      const answer = await migrating;
      const answeredMs = Date.now() - asked;
      await restarted;
      // Answered by the lease's deadline at the latest, not when etcd comes back (a paused etcd never says no).
      expect(answeredMs).toBeLessThan(TTL_SECONDS * 1000 + 1_500);
      // Moved, or refused with a reason (here: 503, the owner cannot be read from etcd); never a hang or a bare 500.
      if (!('moved' in answer)) {
        expect([409, 503], JSON.stringify(answer)).toContain(answer.status);
        expect(answer.message).toMatch(/cannot read .* from etcd/);
      } else expect(answer.moved).toBe(`gw-${target}`);
      await expect
        .poll(async () => (await runningOn(agentId)).length, { timeout: 40_000, interval: 200 })
        .toBe(1);
      sampling = false;
      await sampler;
      expect(seen.filter((on) => on.length > 1)).toEqual([]);
    },
    120_000,
  );

  it('a gateway cut off from etcd stops running the agent on its own and answers 503 naming why', async () => {
    const last = await owner();
    await cluster.relays[last]?.cut();
    // Its process lives on, but within the lease TTL it has stopped the sandbox by itself.
    await expect
      .poll(() => runningOn(agentId), { timeout: TTL_SECONDS * 1000 + 3_000, interval: 100 })
      .toEqual([]);
    await expect(client(last).runAgent(agentId, { input: 'cut' })).rejects.toMatchObject({
      status: 503,
      code: 'CLUSTER_NOT_OWNER',
      message: expect.stringMatching(/lost its etcd lease and serves no agents until it rejoins/),
    });
    expect(cluster.gateways[last]?.process.exitCode).toBeNull();
  }, 30_000);
});
