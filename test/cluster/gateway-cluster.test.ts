import { TaskState } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAgentCard } from '../../src/a2a/card-check.js';
import { callA2aAgent, fetchAgentCard } from '../../src/a2a/client.js';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { signCancel, signTaskAccess, TASK_SIGNATURE_HEADER } from '../../src/a2a/message-signature.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { a2aClientAt, DECLARED, signedRequest } from '../a2a/signed-message.js';
import { postgresUnavailable } from '../store/postgres-server.js';
import { type ClusterGateways, startClusterGateways } from './cluster-gateways.js';
import { etcdUnavailable } from './etcd-server.js';

const unavailable = etcdUnavailable() ?? postgresUnavailable();
if (unavailable !== undefined) console.warn(`gateway cluster tests skipped: ${unavailable}`);
/** Lease TTL 2 s, an election, a placement, a sandbox start. */
const REPLACE_BOUND_MS = 15_000;
/** Long enough (well under the 1 s CPU limit) that a cancel sent on the first event lands mid-run. */
const SLOW_AGENT = `function main(input) { let x = 0; for (let i = 0; i < 2e6; i++) x += i % 7; return x; }`;
const ECHO_AGENT = 'function main(input) { return { echo: input.text, from: input.from }; }';
const caller = keySigner(generateEd25519().privateKey);
const callerDid = didKeyFromPublicKey(caller.publicKey);

/**
 * Three `oacp gateway` processes with `cluster:` in oacp.yaml, on one
 * PostgreSQL and one etcd started here: an agent runs on exactly one of them,
 * any of them answers for it, a kill -9 of the owner moves it, and a
 * lifecycle change made on a non-owner reaches the owner.
 */
describe.skipIf(unavailable !== undefined)('gateways in a cluster (PostgreSQL + etcd)', () => {
  let cluster: ClusterGateways;
  const client = (i: number) => cluster.client(i);
  const live = () => cluster.live();
  const runningOn = (id: string) => cluster.runningOn(id);

  beforeAll(async () => {
    cluster = await startClusterGateways({
      name: 'cluster',
      ttlSeconds: 2,
      config: () => ({
        top: {
          attestation: { level: 'standard' },
          a2a: {
            trust: [
              { from: callerDid, to: 'a2a-echo' },
              { from: callerDid, to: 'a2a-slow' },
              { from: callerDid, to: 'a2a-card' },
            ],
          },
        },
      }),
    });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  const manifest = (name: string) => ({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name,
    quotas: { memory_mb: 16 },
  });
  const a2aClient = (i: number, name: string): Promise<Client> =>
    a2aClientAt(cluster.gateways[i]?.url.origin as string, name);
  const a2aRequest = (to: string, text: string) => signedRequest(caller, to, text);
  const placedOnOne = async (id: string) => {
    await expect.poll(() => runningOn(id), { timeout: REPLACE_BOUND_MS, interval: 200 }).toHaveLength(1);
    return (await runningOn(id))[0] as number;
  };
  /** The receipt's statement on gateway i (its own log). */
  const statementOn = async (i: number, index: number) => {
    const { envelope } = await client(i).receipt(index);
    return JSON.parse(Buffer.from(String(envelope.payload), 'base64').toString('utf8'));
  };

  it('A2A message/send, message/stream, tasks/cancel and tasks/get sent to a non-owner are answered by the owner', async () => {
    const echo = await client(0).createAgent({
      name: 'a2a-echo',
      code: ECHO_AGENT,
      manifest: manifest('a2a-echo'),
    });
    const slow = await client(0).createAgent({
      name: 'a2a-slow',
      code: SLOW_AGENT,
      manifest: manifest('a2a-slow'),
    });
    await client(1).startAgent(echo.id);
    await client(1).startAgent(slow.id);
    const owner = await placedOnOne(echo.id);
    const [first, second] = live().filter((i) => i !== owner) as [number, number];
    const logSize = async (i: number) => (await client(i).health()).logSize;

    // message/send to a node that does not run the agent: the owner runs it and logs the receipt.
    const before = await Promise.all([owner, first].map(logSize));
    const sent = await (await a2aClient(first, 'a2a-echo')).sendMessage(a2aRequest(echo.id, 'hi'), DECLARED);
    if (!('status' in sent)) throw new Error('expected a task');
    expect(sent.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const [artifact] = sent.artifacts;
    const ext = artifact?.metadata?.[OACP_A2A_EXTENSION] as { receipt?: { index: number } } | undefined;
    const index = ext?.receipt?.index as number;
    expect(index).toBeGreaterThanOrEqual(before[0] as number);
    // The receipt is the owner's: in its log, naming the agent; the relaying node logged no run.
    expect(JSON.stringify(await statementOn(owner, index))).toContain(echo.id);
    expect(await logSize(first)).toBe(before[1]);
    // tasks/get through the other non-owner: the task in the shared store, as the owner left it.
    // As the task's sender: its signature for this task rides in a header the relay passes on.
    const got = await (await a2aClient(second, 'a2a-echo')).getTask(
      { tenant: '', id: sent.id, historyLength: 0 },
      { serviceParameters: { [TASK_SIGNATURE_HEADER]: signTaskAccess(sent.id, echo.id, caller) } },
    );
    expect(got.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(got.artifacts).toHaveLength(1);

    // message/stream through one non-owner, tasks/cancel through the other, mid-run.
    const slowOwner = await placedOnOne(slow.id);
    const [streamVia, cancelVia] = live().filter((i) => i !== slowOwner) as [number, number];
    const streaming = await a2aClient(streamVia, 'a2a-slow');
    const cancelling = await a2aClient(cancelVia, 'a2a-slow');
    let taskId: string | undefined;
    const events: string[] = [];
    let final: TaskState | undefined;
    for await (const event of streaming.sendMessageStream(a2aRequest(slow.id, 'count'), DECLARED)) {
      events.push(String(event.payload?.$case));
      if (event.payload?.$case === 'task' && taskId === undefined) {
        taskId = event.payload.value.id;
        const metadata = { [OACP_A2A_EXTENSION]: { signature: signCancel(taskId, slow.id, caller) } };
        const cancelled = await cancelling.cancelTask({ tenant: '', id: taskId, metadata });
        expect(cancelled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
      }
      if (event.payload?.$case === 'statusUpdate') final = event.payload.value.status?.state;
      if (event.payload?.$case === 'artifactUpdate')
        throw new Error('a cancelled task must not deliver a result');
    }
    // The owner's events came through the relay one by one: the task first, the cancel last.
    expect(events[0]).toBe('task');
    expect(final).toBe(TaskState.TASK_STATE_CANCELED);
    const after = await cancelling.getTask(
      { tenant: '', id: taskId ?? '', historyLength: 0 },
      { serviceParameters: { [TASK_SIGNATURE_HEADER]: signTaskAccess(taskId ?? '', slow.id, caller) } },
    );
    expect(after.status?.state).toBe(TaskState.TASK_STATE_CANCELED);

    // A cancel not signed by the sender is refused by the owner, and the refusal relayed as it is.
    const other = keySigner(generateEd25519().privateKey);
    const forged = { [OACP_A2A_EXTENSION]: { signature: signCancel(sent.id, echo.id, other) } };
    await expect(
      (await a2aClient(first, 'a2a-echo')).cancelTask({ tenant: '', id: sent.id, metadata: forged }),
    ).rejects.toThrow();
  }, 120_000);

  /**
   * Each node keeps its own log, so a card must name the log of the node that runs the agent:
   * a card naming the node asked would make every result of a relayed call fail its log check.
   */
  it("serves, on every node, the owner's card: the owner's log, read through the node asked, signed by the agent", async () => {
    const agent = await client(0).createAgent({
      name: 'a2a-card',
      code: ECHO_AGENT,
      manifest: manifest('a2a-card'),
    });
    await client(2).startAgent(agent.id);
    const owner = await placedOnOne(agent.id);
    const origin = (i: number) => cluster.gateways[i]?.url.origin as string;
    const ownerLog = `oacp.test/cluster/gw-${owner}`;
    const cards = await Promise.all(
      live().map(async (i) => {
        const card = await fetchAgentCard(`${origin(i)}/a2a/a2a-card`);
        const check = checkAgentCard(card, agent.id);
        if (check.status !== 'verified') throw new Error(`card from gw-${i}: ${check.reason}`);
        // The URLs are those of the node asked; the log is the owner's, its receipts read through here.
        expect(card.supportedInterfaces[0]?.url).toBe(`${origin(i)}/a2a/a2a-card`);
        expect(check.params.log.origin).toBe(ownerLog);
        expect(check.params.receipts).toBe(`${origin(i)}/v1/cluster/nodes/gw-${owner}/receipts/{index}`);
        return check.params;
      }),
    );
    expect(new Set(cards.map((params) => params.log.verifierKey)).size).toBe(1);
    expect(new Set(cards.map((params) => JSON.stringify(params.airlockKeys))).size).toBe(1);

    // A call through a non-owner, checked by an independent client the whole way: card
    // signature, receipt signature, inclusion in the card's log, input and output digests.
    const via = live().find((i) => i !== owner) as number;
    const result = await callA2aAgent({
      url: `${origin(via)}/a2a/a2a-card`,
      signer: caller,
      expectDid: agent.id,
      text: 'through a non-owner',
    });
    expect(result.state).toBe('completed');
    expect(result.artifacts).toHaveLength(1);
    for (const check of result.artifacts[0]?.checks ?? [])
      expect(check, check.name).toMatchObject({ ok: true });
    expect(result.trustLevel).not.toBe('Untrusted');
    const index = result.artifacts[0]?.receiptIndex as number;
    // That receipt is the owner's, whichever node it is read through; the node asked has its own log.
    const relayed = (await (
      await fetch(`${origin(via)}/v1/cluster/nodes/gw-${owner}/receipts/${index}`)
    ).json()) as { origin: string; logKey: string };
    expect(relayed).toMatchObject({ origin: ownerLog, logKey: (await client(owner).receipt(index)).logKey });
    expect(relayed.logKey).toBe(cards[0]?.log.verifierKey);
    expect(
      (await fetch(`${origin(via)}/v1/cluster/nodes/gw-${owner}/log/checkpoint`).then((r) => r.text())).split(
        '\n',
      )[0],
    ).toBe(ownerLog);
    // Attack: a client posing as a relaying member names its own base; the loopback listener's
    // Host check refuses that name as it would refuse it in Host, so the card keeps the origin.
    const posed = await fetch(`${origin(owner)}/a2a/a2a-card/.well-known/agent-card.json`, {
      headers: { 'x-oacp-forwarded': '1', 'x-oacp-a2a-base': 'http://evil.example' },
    });
    expect(JSON.stringify(await posed.json())).not.toContain('evil.example');
    // Refusals: a node nobody runs, an index that is not one.
    expect((await fetch(`${origin(via)}/v1/cluster/nodes/gw-9/receipts/0`)).status).toBe(404);
    expect((await fetch(`${origin(via)}/v1/cluster/nodes/gw-${owner}/receipts/-1`)).status).toBe(400);
  }, 120_000);

  it('runs an agent on exactly one node, answers for it on every node, and moves it when the owner is killed', async () => {
    const agent = await client(0).createAgent({
      name: 'placed',
      code: 'function main(input) { return "ran " + input; }',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'placed',
        quotas: { memory_mb: 16 },
      },
    });
    await client(1).startAgent(agent.id);
    await expect
      .poll(() => runningOn(agent.id), { timeout: REPLACE_BOUND_MS, interval: 200 })
      .toHaveLength(1);
    for (const i of live()) expect((await client(i).runAgent(agent.id, { input: i })).value).toBe(`ran ${i}`);

    const [owner] = await runningOn(agent.id);
    await cluster.kill(owner as number);
    await expect
      .poll(() => runningOn(agent.id), { timeout: REPLACE_BOUND_MS, interval: 200 })
      .toHaveLength(1);
    for (const i of live()) expect((await client(i).runAgent(agent.id, { input: i })).value).toBe(`ran ${i}`);

    // Suspended through the node that does not run it: the owner stops the sandbox.
    const [runner] = await runningOn(agent.id);
    const other = live().find((i) => i !== runner) as number;
    await client(other).suspendAgent(agent.id);
    await expect.poll(() => runningOn(agent.id), { timeout: 10_000, interval: 200 }).toHaveLength(0);
  }, 120_000);
});
