import { randomUUID } from 'node:crypto';
import type { Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { signCancel, signTaskAccess, TASK_SIGNATURE_HEADER } from '../../src/a2a/message-signature.js';
import { generateEd25519, keySigner, type Signer } from '../../src/core/ed25519.js';
import { jcsDigest } from '../../src/core/jcs.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { A2A_POST_HEADERS, startNode, startNodeWithSender, type TestNode } from './harness.js';
import { DECLARED, signedRequest } from './signed-message.js';

/**
 * Issue 10, A2A tasks: a task call refused because the caller is not the
 * task's owner (tasks/get, tasks/resubscribe, tasks/cancel) was a security
 * event only, while every refused message has a receipt. Each is now one
 * receipt, `a2a:<method>` with the task id as its arguments. A get for an id
 * never made is recorded in the same words as a stranger's get, so the
 * public log tells them apart no better than the answer ("Task not found").
 */
describe('A2A: refused task calls are receipted', () => {
  let node: TestNode;
  let client: Client;
  let alice: { did: string };
  let sender: Signer;
  const stranger = keySigner(generateEd25519().privateKey);

  beforeAll(async () => {
    ({ node, sender, alice, client } = await startNodeWithSender());
  });
  afterAll(async () => node?.close());

  const header = (value: string) => ({ serviceParameters: { [TASK_SIGNATURE_HEADER]: value } });
  const refusedAs = (method: string, taskId: string, reason: string) => ({
    tool: { name: `a2a:${method}` },
    argumentsDigest: jcsDigest({ taskId }),
    outcome: 'denied',
    policy: { effect: 'deny', policyId: 'oacp/agent', reason },
  });

  it("attack: a stranger's tasks/get and tasks/resubscribe, and a get for an id never made, each leave one receipt in the same words", async () => {
    const task = (await client.sendMessage(signedRequest(sender, alice.did, 'mine'), DECLARED)) as Task;
    const log = node.gateway.node.log;
    const notCallers = (id: string) => `task ${id} was not found among the caller's tasks`;

    let size = log.size;
    await expect(
      client.getTask(
        { tenant: '', id: task.id, historyLength: 0 },
        header(signTaskAccess(task.id, alice.did, stranger)),
      ),
    ).rejects.toMatchObject({ envelopeCode: -32001 });
    expect(log.size).toBe(size + 1);
    expect(await node.predicateAt(size)).toMatchObject(refusedAs('tasks/get', task.id, notCallers(task.id)));

    size = log.size;
    const stream = client.resubscribeTask({ tenant: '', id: task.id }, header('not-a-signature'));
    await expect(stream.next()).rejects.toMatchObject({ envelopeCode: -32001 });
    expect(log.size).toBe(size + 1);
    expect(await node.predicateAt(size)).toMatchObject(
      refusedAs('tasks/resubscribe', task.id, notCallers(task.id)),
    );

    size = log.size;
    const unknownId = randomUUID();
    await expect(client.getTask({ tenant: '', id: unknownId, historyLength: 0 })).rejects.toMatchObject({
      envelopeCode: -32001,
    });
    expect(log.size).toBe(size + 1);
    expect(await node.predicateAt(size)).toMatchObject(
      refusedAs('tasks/get', unknownId, notCallers(unknownId)),
    );

    // The sender's own get is not refused, and leaves no refusal.
    size = log.size;
    const own = await client.getTask(
      { tenant: '', id: task.id, historyLength: 0 },
      header(signTaskAccess(task.id, alice.did, sender)),
    );
    expect(own.id).toBe(task.id);
    expect(log.size).toBe(size);
  });

  it("attack: a stranger's tasks/cancel is -32044 and one receipt that does not name the task's sender", async () => {
    const task = (await client.sendMessage(signedRequest(sender, alice.did, 'keep'), DECLARED)) as Task;
    const log = node.gateway.node.log;
    const size = log.size;
    const metadata = { [OACP_A2A_EXTENSION]: { signature: signCancel(task.id, alice.did, stranger) } };
    await expect(client.cancelTask({ tenant: '', id: task.id, metadata })).rejects.toMatchObject({
      envelopeCode: -32044,
    });
    expect(log.size).toBe(size + 1);
    const predicate = await node.predicateAt(size);
    expect(predicate).toMatchObject(
      refusedAs('tasks/cancel', task.id, "only the task's sender may cancel it, by a cancel it signed"),
    );
    expect(JSON.stringify(predicate)).not.toContain(didKeyFromPublicKey(sender.publicKey));
  });
});

/** A message call whose params are no message is refused on its shape, and recorded like one refused unread. */
describe('A2A: a SendMessage without a message', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode([]);
    await node.agent('alice');
  });
  afterAll(async () => node?.close());

  it('attack: is refused with one receipt, as a message refused on its shape', async () => {
    const log = node.gateway.node.log;
    const size = log.size;
    const response = await fetch(`${node.url}/a2a/alice`, {
      method: 'POST',
      headers: A2A_POST_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: {} }),
    });
    const answer = (await response.json()) as { error?: { code: number; message: string } };
    expect(answer.error?.message).toBe(
      `invalid SendMessage params: message: Invalid input: expected object, received undefined (receipt #${size})`,
    );
    expect(log.size).toBe(size + 1);
  });
});
