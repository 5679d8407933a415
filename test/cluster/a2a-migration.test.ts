import { type Task, TaskState } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OACP_JSONRPC_CODES } from '../../src/a2a/jsonrpc-errors.js';
import { textOfParts } from '../../src/a2a/parts.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { FORWARDED_HEADER, MAX_HOPS } from '../../src/gateway/http/forward.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { a2aClientAt, DECLARED, signedRequest } from '../a2a/signed-message.js';
import { postgresUnavailable } from '../store/postgres-server.js';
import {
  type ClusterGateways,
  moveOwnerUnheard,
  placeAgent,
  startClusterGateways,
} from './cluster-gateways.js';
import { etcdUnavailable } from './etcd-server.js';

const unavailable = etcdUnavailable() ?? postgresUnavailable();
if (unavailable !== undefined) console.warn(`A2A migration tests skipped: ${unavailable}`);
const PLACE_BOUND_MS = 15_000;
/** As migration.test.ts: a 2 s lease lapsed on its own on a loaded CI host. */
const TTL_SECONDS = 4;
/** A standard-tier agent whose state between runs is a global counter: each run's answer is its count. */
const COUNTER = 'var count = 0; function main(input) { count += 1; return count; }';
const caller = keySigner(generateEd25519().privateKey);
const callerDid = didKeyFromPublicKey(caller.publicKey);

/**
 * A2A messages to a clustered agent while it is between owners (docs/cluster.md, "between
 * owners"): a message that reaches the new owner before etcd's watch tells it so, or races a
 * migration, is answered once (never lost to the gap, never run twice), or fails saying it did
 * not run. Three `oacp gateway` processes on a real PostgreSQL and etcd, the official A2A client.
 */
describe.skipIf(unavailable !== undefined)(
  'A2A messages to an agent between owners (PostgreSQL + etcd)',
  () => {
    let cluster: ClusterGateways;
    let agentId = '';
    const live = () => cluster.live();
    const runningOn = (id: string) => cluster.runningOn(id);
    const owner = async () => {
      await expect
        .poll(async () => (await runningOn(agentId)).length, { timeout: 10_000, interval: 100 })
        .toBe(1);
      return (await runningOn(agentId))[0] as number;
    };
    const a2aClient = (i: number): Promise<Client> =>
      a2aClientAt(cluster.gateways[i]?.url.origin as string, 'counter');
    /** `handedOn`: as a node hands the message on to the owner etcd names (x-oacp-forwarded: 1). */
    const send = async (via: Client, text: string, handedOn = false): Promise<Task> => {
      const options = handedOn
        ? { serviceParameters: { ...DECLARED.serviceParameters, [FORWARDED_HEADER]: '1' } }
        : DECLARED;
      const answer = await via.sendMessage(signedRequest(caller, agentId, text), options);
      if (!('status' in answer)) throw new Error(`expected a task, got ${JSON.stringify(answer)}`);
      return answer;
    };
    /** The run's count from a completed task's result artifact. */
    const countOf = (task: Task): unknown => {
      const part = task.artifacts[0]?.parts[0];
      return part?.content?.$case === 'data' ? (part.content.value as { value?: unknown }).value : undefined;
    };
    const statusText = (task: Task) => textOfParts(task.status?.message?.parts ?? []);

    beforeAll(async () => {
      cluster = await startClusterGateways({
        name: 'a2a-move',
        ttlSeconds: TTL_SECONDS,
        relays: true,
        config: () => ({
          top: { attestation: { level: 'standard' }, a2a: { trust: [{ from: callerDid, to: 'counter' }] } },
        }),
      });
      agentId = await placeAgent(cluster, { name: 'counter', code: COUNTER, boundMs: PLACE_BOUND_MS });
    }, 180_000);

    afterAll(async () => {
      await cluster?.stop();
    });

    it('a message/send that reaches the new owner before its etcd watch names it the owner waits for the start there and runs once', async () => {
      const source = await owner();
      const target = live().find((i) => i !== source) as number;
      // The client reads the card before the fault, as a caller that already knows the agent does.
      const direct = await a2aClient(target);
      expect(countOf(await send(direct, 'warm'))).toBe(1);
      const release = await moveOwnerUnheard(cluster, agentId, source, target);
      try {
        // Straight to the new owner, which does not know yet that it is; and as the source hands a
        // message on after such a move (one hop, to the owner etcd names).
        const sending = [send(direct, 'to-the-new-owner'), send(direct, 'handed-on', true)];
        // The target hears of its placement a second later: well within its lease (a TTL of 4 s),
        // so it keeps serving. Nothing here waits on this second; it is the length of the fault.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        release();
        const tasks = await Promise.all(sending);
        for (const task of tasks) {
          // Waited for the start and ran there, once; never failed as "not running; start it first".
          expect(task.status?.state, statusText(task)).toBe(TaskState.TASK_STATE_COMPLETED);
        }
        // A re-placement carries no state: a fresh sandbox counts from one, once per message.
        expect(tasks.map(countOf).sort()).toEqual([1, 2]);
        await expect.poll(() => runningOn(agentId), { timeout: 10_000, interval: 100 }).toEqual([target]);
        expect(countOf(await send(await a2aClient(source), 'next'))).toBe(3);
      } finally {
        release();
      }
    }, 90_000);

    it('message/send racing a migration: each is answered once, or fails saying it did not run', async () => {
      const source = await owner();
      const target = live().find((i) => i !== source) as number;
      const bystander = live().find((i) => i !== source && i !== target) as number;
      const clients = await Promise.all([0, 1, 2].map(a2aClient));
      const before = countOf(await send(clients[source] as Client, 'before')) as number;

      const migrating = cluster.client(bystander).migrateAgent(agentId, `gw-${target}`);
      // A message refused before its checks (between nodes past the wait) is a JSON-RPC error the
      // client reads, saying nothing ran: as good an answer as a failed task, never a parse error.
      const racing = [0, 1, 2, 0, 1, 2].map((i, n) =>
        send(clients[i] as Client, `race-${n}`).catch((error: unknown) => {
          expect(error).toMatchObject({
            name: 'JsonRpcTransportError',
            envelopeCode: OACP_JSONRPC_CODES.OACP_UNAVAILABLE,
            message: expect.stringMatching(/nothing ran; retry$/),
          });
          return undefined;
        }),
      );
      const moved = await migrating;
      expect(moved).toMatchObject({ agent: agentId, source: `gw-${source}`, target: `gw-${target}` });
      const tasks = await Promise.all(racing);
      const counts: number[] = [];
      for (const task of tasks) {
        if (task === undefined) continue;
        if (task.status?.state === TaskState.TASK_STATE_COMPLETED) counts.push(countOf(task) as number);
        // The only other answer: a failed task that says the message did not run and to send it again.
        else {
          expect(task.status?.state, statusText(task)).toBe(TaskState.TASK_STATE_FAILED);
          expect(statusText(task)).toMatch(/did not run; send it again/);
        }
      }
      // The state moved with the agent; every completed message ran once: distinct consecutive counts.
      expect([...counts].sort((a, b) => a - b)).toEqual(counts.map((_, n) => before + 1 + n));
      await expect.poll(() => runningOn(agentId), { timeout: 10_000, interval: 100 }).toEqual([target]);
      // Nothing ran that was not answered: the next count follows the answered ones.
      expect(countOf(await send(clients[bystander] as Client, 'after'))).toBe(before + counts.length + 1);
    }, 90_000);

    it('a message past its last hop at a node that does not run the agent is a JSON-RPC error the official client acts on: -32051, its id, no member URL, nothing ran', async () => {
      const source = await owner();
      const other = live().find((i) => i !== source) as number;
      const client = await a2aClient(other);
      const before = countOf(await send(client, 'before-last-hop')) as number;
      // As a node hands a message on for the last time (x-oacp-forwarded at the hop limit): this
      // node may not forward it again, and does not run the agent.
      const lastHop = {
        serviceParameters: { ...DECLARED.serviceParameters, [FORWARDED_HEADER]: String(MAX_HOPS) },
      };
      const refused = await client.sendMessage(signedRequest(caller, agentId, 'last-hop'), lastHop).then(
        () => undefined,
        (error: unknown) => error as { message: string; errorResponse?: { id: unknown } },
      );
      expect(refused).toMatchObject({
        name: 'JsonRpcTransportError',
        envelopeCode: OACP_JSONRPC_CODES.OACP_UNAVAILABLE,
        message: expect.stringMatching(/^OACP_UNAVAILABLE: CLUSTER_NOT_OWNER: .*nothing ran; retry$/),
      });
      expect(refused?.errorResponse?.id).not.toBeNull();
      expect(refused?.message).not.toMatch(/https?:|127\.0\.0\.1/);
      // Nothing ran: the next message's count follows the one before.
      expect(countOf(await send(client, 'after-last-hop'))).toBe(before + 1);
    }, 90_000);
  },
);
