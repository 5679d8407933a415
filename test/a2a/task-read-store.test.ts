import { type Task, TaskState } from '@a2a-js/sdk';
import { InMemoryTaskStore } from '@a2a-js/sdk/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OACP_JSONRPC_CODES } from '../../src/a2a/jsonrpc-errors.js';
import { signTaskAccess, TASK_SIGNATURE_HEADER } from '../../src/a2a/message-signature.js';
import { TrustGraph } from '../../src/a2a/trust-graph.js';
import { clusterError } from '../../src/cluster/errors.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { refusalOf, toHttpFailure } from '../../src/gateway/http/errors.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { type EmbeddedServer, serveEmbedded, startNode, type TestNode } from './harness.js';
import { a2aClientAt, DECLARED, signedRequest } from './signed-message.js';

const caller = keySigner(generateEd25519().privateKey);

/**
 * In a cluster every node keeps A2A tasks in one shared store (docs/cluster.md), so a task read
 * needs no owner: `tasks/get` is answered by the node asked, from the store, and never waits
 * while the agent is between nodes. Two A2A servers over one gateway's agents stand in for two
 * nodes sharing the store; the second's relay to the owner fails as the between-owners wait does
 * when it ends without an owner (CLUSTER_NOT_OWNER).
 */
describe('A2A: a task read is answered from the shared task store, not by the owner', () => {
  let node: TestNode;
  let alice: { did: string };
  let owner: EmbeddedServer;
  let other: EmbeddedServer;
  const relayed: string[] = [];

  beforeAll(async () => {
    node = await startNode();
    alice = await node.agent('alice');
    const tasks = new InMemoryTaskStore();
    const shared = {
      trust: new TrustGraph([{ from: didKeyFromPublicKey(caller.publicKey), to: 'alice' }]),
      taskStore: () => tasks,
      failure: (error: unknown) => refusalOf(toHttpFailure(error)),
    };
    owner = await serveEmbedded(node, { ...shared, forward: async () => undefined });
    other = await serveEmbedded(node, {
      ...shared,
      forward: async (_agent, request, body) => {
        // The card (a GET) is this node's to sign in this stand-in; only JSON-RPC calls are relayed.
        if (request.method !== 'POST') return undefined;
        relayed.push((JSON.parse(body) as { method: string }).method);
        throw clusterError(
          'CLUSTER_NOT_OWNER',
          'agent alice is between nodes; the run did not happen; retry',
        );
      },
    });
  });
  afterAll(async () => {
    await other?.close();
    await owner?.close();
    await node?.close();
  });

  it('tasks/get at a node whose relay to the owner fails answers the task from the store; a cancel still goes to the owner', async () => {
    const made = (await (
      await a2aClientAt(owner.origin, 'alice')
    ).sendMessage(signedRequest(caller, alice.did, 'keep'), DECLARED)) as Task;
    expect(made.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);

    const client = await a2aClientAt(other.origin, 'alice');
    relayed.length = 0;
    const got = await client.getTask(
      { tenant: '', id: made.id, historyLength: undefined },
      { serviceParameters: { [TASK_SIGNATURE_HEADER]: signTaskAccess(made.id, alice.did, caller) } },
    );
    expect(got).toMatchObject({ id: made.id, status: { state: TaskState.TASK_STATE_COMPLETED } });
    expect(got.artifacts).toHaveLength(1);
    expect(relayed).toEqual([]);

    // The store's answer is the owner's: a stranger's read is still refused as not found.
    const stranger = keySigner(generateEd25519().privateKey);
    await expect(
      client.getTask(
        { tenant: '', id: made.id, historyLength: undefined },
        { serviceParameters: { [TASK_SIGNATURE_HEADER]: signTaskAccess(made.id, alice.did, stranger) } },
      ),
    ).rejects.toMatchObject({ envelopeCode: -32001 });

    // A cancel must reach the running task on its owner: it is relayed, and refused as that relay is.
    await expect(client.cancelTask({ tenant: '', id: made.id, metadata: undefined })).rejects.toMatchObject({
      envelopeCode: OACP_JSONRPC_CODES.OACP_UNAVAILABLE,
    });
    expect(relayed).toEqual(['CancelTask']);
  });
});
