import { randomUUID } from 'node:crypto';
import { type AgentCard, type Message, type Task, TaskState, verifyAgentCardSignature } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import {
  signCancel,
  signMessage,
  signTaskAccess,
  TASK_SIGNATURE_HEADER,
} from '../../src/a2a/message-signature.js';
import { generateEd25519, keySigner, type Signer } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { startNode, type TestNode } from './harness.js';
import {
  a2aClientAt,
  DECLARED,
  plainRequest,
  sendRequest,
  signedRequest,
  textMessage,
} from './signed-message.js';

/**
 * The official @a2a-js/sdk client, unchanged, against an OACP node over real
 * HTTP on loopback. OACP's part on the client side is only the signature it
 * puts in the message metadata (and the A2A-Extensions declaration A2A uses
 * for required extensions).
 */
describe('official A2A SDK client against the OACP server', () => {
  let node: TestNode;
  let alice: { did: string };
  let carol: { did: string; signer: Signer };
  let client: Client;
  let card: AgentCard;
  const trusted = keySigner(generateEd25519().privateKey);
  const stranger = keySigner(generateEd25519().privateKey);
  const declared = DECLARED;

  beforeAll(async () => {
    node = await startNode([
      { from: didKeyFromPublicKey(trusted.publicKey), to: 'alice' },
      { from: 'carol', to: 'alice' },
    ]);
    alice = await node.agent('alice');
    carol = await node.agent('carol');
    // The SDK resolves the card path relative to `<origin>/a2a/alice/`: the trailing slash keeps /a2a/alice.
    client = await a2aClientAt(node.url, 'alice');
    card = await client.getAgentCard();
  });
  afterAll(async () => node?.close());

  const signed = (text: string, signer: Signer = trusted, to = alice.did) => signedRequest(signer, to, text);

  it('discovers the per-agent card and verifies its JWS with the SDK verifier (§8.4)', async () => {
    expect(card.name).toBe('alice');
    expect(card.supportedInterfaces[0]?.url).toBe(`${node.url}/a2a/alice`);
    const extension = card.capabilities?.extensions.find((e) => e.uri === OACP_A2A_EXTENSION);
    expect(extension?.params).toMatchObject({
      did: alice.did,
      tier: 'standard',
      signedMessagesRequired: true,
    });
    const verify = verifyAgentCardSignature(async (kid) =>
      importJWK(
        {
          kty: 'OKP',
          crv: 'Ed25519',
          x: Buffer.from(publicKeyFromDidKey(kid.split('#')[0] ?? '')).toString('base64url'),
        },
        'EdDSA',
      ),
    );
    await expect(verify(card)).resolves.toBeUndefined();
  });

  it('lists the agents on the root card', async () => {
    const root = (await (await fetch(`${node.url}/.well-known/agent-card.json`)).json()) as {
      capabilities: { extensions: { params: { agents: { name: string; did: string }[] } }[] };
    };
    expect(root.capabilities.extensions[0]?.params.agents).toEqual([
      expect.objectContaining({ name: 'alice', did: alice.did }),
      expect.objectContaining({ name: 'carol', did: carol.did }),
    ]);
  });

  it('refuses a client that does not declare the required OACP extension (A2A -32008)', async () => {
    await expect(client.sendMessage(signed('hi'))).rejects.toMatchObject({ envelopeCode: -32008 });
  });

  it('refuses an unsigned message with a reason, and records a security event', async () => {
    const before = node.events.length;
    await expect(client.sendMessage(plainRequest('hi'), declared)).rejects.toMatchObject({
      envelopeCode: -32040,
      message: expect.stringMatching(/OACP_SIGNATURE_REQUIRED: .*signed by the sender's did:key/),
    });
    expect(node.events.slice(before)).toEqual([
      expect.objectContaining({ type: 'signature_required', agent: 'alice' }),
    ]);
  });

  it('runs a signed message in the sandbox and answers with a receipted artifact (message/send, blocking)', async () => {
    const task = (await client.sendMessage(signed('ping'), declared)) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const artifact = task.artifacts[0];
    expect(artifact?.parts[0]?.content).toEqual({
      $case: 'data',
      value: {
        value: { echo: 'ping', from: didKeyFromPublicKey(trusted.publicKey), items: 0 },
        logs: ['got ping'],
      },
    });
    const ext = artifact?.metadata?.[OACP_A2A_EXTENSION] as {
      receipt: { index: number; envelope: { signatures: unknown[] } };
    };
    expect(ext.receipt.envelope.signatures).toHaveLength(2);
    const fetched = await fetch(`${node.url}/v1/receipts/${ext.receipt.index}`);
    expect(fetched.status).toBe(200);
  });

  it('streams the task lifecycle (message/stream over SSE)', async () => {
    const kinds: string[] = [];
    let last: TaskState | undefined;
    for await (const event of client.sendMessageStream(signed('stream me'), declared)) {
      kinds.push(event.payload?.$case ?? 'none');
      if (event.payload?.$case === 'statusUpdate') last = event.payload.value.status?.state;
    }
    expect(kinds[0]).toBe('task');
    expect(kinds).toContain('artifactUpdate');
    expect(last).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('gets a task, and lets only its sender cancel it', async () => {
    const task = (await client.sendMessage(signed('keep'), declared)) as Task;
    const got = await client.getTask(
      { tenant: '', id: task.id, historyLength: undefined },
      { serviceParameters: { [TASK_SIGNATURE_HEADER]: signTaskAccess(task.id, alice.did, trusted) } },
    );
    expect(got.artifacts).toHaveLength(1);
    await expect(client.cancelTask({ tenant: '', id: task.id, metadata: undefined })).rejects.toMatchObject({
      envelopeCode: -32044,
      message: expect.stringMatching(/only the task's sender/),
    });
    const byStranger = { [OACP_A2A_EXTENSION]: { signature: signCancel(task.id, alice.did, stranger) } };
    const strangers = await client.cancelTask({ tenant: '', id: task.id, metadata: byStranger }).then(
      () => ({ envelopeCode: undefined, message: 'the cancel was not refused' }),
      (error: unknown) => error as { envelopeCode?: number; message: string },
    );
    expect(strangers).toMatchObject({
      envelopeCode: -32044,
      message: expect.stringMatching(/only the task's sender/),
    });
    // Whoever holds the id is not told who made the task (the operator's security event is).
    const senderDid = didKeyFromPublicKey(trusted.publicKey);
    expect(strangers.message).not.toContain(senderDid);
    expect(node.events.at(-1)).toMatchObject({
      type: 'cancel_refused',
      sender: senderDid,
      reason: expect.stringContaining(senderDid),
    });
    const stale = {
      [OACP_A2A_EXTENSION]: { signature: { ...signCancel(task.id, alice.did, trusted), timestamp: 1 } },
    };
    // The sender itself is told why (here: its signature no longer matches what it signed).
    await expect(client.cancelTask({ tenant: '', id: task.id, metadata: stale })).rejects.toMatchObject({
      envelopeCode: -32044,
      message: expect.stringMatching(/only the task's sender may cancel it: bad signature/),
    });
    const bySender = { [OACP_A2A_EXTENSION]: { signature: signCancel(task.id, alice.did, trusted) } };
    // The sender passes OACP's check; the SDK then refuses because the task already completed.
    await expect(client.cancelTask({ tenant: '', id: task.id, metadata: bySender })).rejects.toMatchObject({
      envelopeCode: -32002,
    });
  });

  it('attack: a task id in the wrong hands: tasks/get, resubscribe and push configs answer "not found", as for an id never made', async () => {
    const task = (await client.sendMessage(signed('mine'), declared)) as Task;
    const header = (value: string) => ({ serviceParameters: { [TASK_SIGNATURE_HEADER]: value } });
    // What an id that never existed gets: the bar every refusal below must match exactly.
    const unknownId = randomUUID();
    const unknown = await client
      .getTask({ tenant: '', id: unknownId, historyLength: 0 })
      .catch((error) => error);
    expect(unknown).toMatchObject({ envelopeCode: -32001, message: `Task not found: ${unknownId}` });
    const notFound = { envelopeCode: -32001, message: `Task not found: ${task.id}` };
    const get = (options?: ReturnType<typeof header>) =>
      client.getTask({ tenant: '', id: task.id, historyLength: 0 }, options);
    // Another caller: no signature, its own signature, the sender's signature for another task.
    await expect(get()).rejects.toMatchObject(notFound);
    await expect(get(header(signTaskAccess(task.id, alice.did, stranger)))).rejects.toMatchObject(notFound);
    await expect(get(header(signTaskAccess(unknownId, alice.did, trusted)))).rejects.toMatchObject(notFound);
    await expect(get(header('not-a-signature'))).rejects.toMatchObject(notFound);
    // The sender's own signature, once; the same header replayed by whoever saw it is refused.
    const once = header(signTaskAccess(task.id, alice.did, trusted));
    expect((await get(once)).id).toBe(task.id);
    await expect(get(once)).rejects.toMatchObject(notFound);
    // Every other task-scoped method, by the stranger.
    const stream = client.resubscribeTask(
      { tenant: '', id: task.id },
      header(signTaskAccess(task.id, alice.did, stranger)),
    );
    await expect(stream.next()).rejects.toMatchObject(notFound);
    // Push configs (the card offers none): refused alike for the stranger's task and an unknown id.
    for (const method of ['tasks/pushNotificationConfig/get', 'tasks/pushNotificationConfig/list']) {
      const push = async (id: string) =>
        (await rpc('0.3', { jsonrpc: '2.0', id: 1, method, params: { id, taskId: id } })).body.error;
      const refused = await push(task.id);
      expect(refused).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
      expect(refused).toEqual(await push(unknownId));
    }
    // The v0.3 dialect, raw: the same JSON-RPC error as for an unknown id.
    const legacy = async (id: string) =>
      (await rpc('0.3', { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id } })).body.error;
    expect(await legacy(task.id)).toEqual({
      ...((await legacy(unknownId)) as Record<string, unknown>),
      message: `Task not found: ${task.id}`,
    });
    expect(node.events.at(-1)).toMatchObject({ type: 'task_refused', agent: 'alice' });
  });

  it('refuses a replayed message', async () => {
    const once = signed('only once');
    await client.sendMessage(once, declared);
    await expect(client.sendMessage(once, declared)).rejects.toMatchObject({
      envelopeCode: -32042,
      message: expect.stringMatching(/OACP_REPLAYED/),
    });
    expect(node.events.at(-1)).toMatchObject({
      type: 'replay',
      sender: didKeyFromPublicKey(trusted.publicKey),
    });
  });

  it('refuses a message changed after signing, and one signed for another agent', async () => {
    const tampered = signed('pay 1');
    const parts = textMessage('pay 1000').parts;
    await expect(
      client.sendMessage({ ...tampered, message: { ...(tampered.message as Message), parts } }, declared),
    ).rejects.toMatchObject({
      envelopeCode: -32041,
      message: expect.stringMatching(/payload digest mismatch/),
    });
    const elsewhere = signed('hi', trusted, didKeyFromPublicKey(stranger.publicKey));
    await expect(client.sendMessage(elsewhere, declared)).rejects.toMatchObject({
      envelopeCode: -32041,
      message: expect.stringMatching(/purpose mismatch/),
    });
  });

  it('refuses a validly signed sender the trust graph has no edge for', async () => {
    await expect(client.sendMessage(signed('let me in', stranger), declared)).rejects.toMatchObject({
      envelopeCode: -32043,
      message: expect.stringMatching(/OACP_TRUST_DENIED: no trust edge lets did:key:.* send tasks to alice/),
    });
    expect(node.events.at(-1)).toMatchObject({
      type: 'trust_denied',
      sender: didKeyFromPublicKey(stranger.publicKey),
    });
  });

  it("matches an edge written with a local agent name against that agent's did, one way only", async () => {
    const task = (await client.sendMessage(signed('from carol', carol.signer), declared)) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const toCarol = await a2aClientAt(node.url, 'carol');
    await expect(
      toCarol.sendMessage(
        sendRequest(signMessage(textMessage('back'), trusted, { to: carol.did })),
        declared,
      ),
    ).rejects.toMatchObject({ envelopeCode: -32043 });
  });

  it("refuses a follow-up message to another sender's task", async () => {
    const task = (await client.sendMessage(signed('mine', trusted), declared)) as Task;
    const followUp = { ...textMessage('me too'), taskId: task.id, contextId: task.contextId };
    await expect(
      client.sendMessage(sendRequest(signMessage(followUp, carol.signer, { to: alice.did })), declared),
    ).rejects.toMatchObject({
      envelopeCode: -32043,
      message: expect.stringMatching(/belongs to another sender/),
    });
    // The refusal (and its public receipt) does not say who made the task.
    expect(node.events.at(-1)?.reason).not.toContain(didKeyFromPublicKey(trusted.publicKey));
  });

  it('refuses listing tasks (it would show one caller the tasks of another)', async () => {
    const listed = await rpc('1.0', { jsonrpc: '2.0', id: 9, method: 'ListTasks', params: {} });
    expect(listed.body).toMatchObject({ id: 9, error: { code: -32601 } });
  });

  async function rpc(version: string | undefined, body: unknown, raw?: string) {
    const response = await fetch(`${node.url}/a2a/alice`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(version === undefined ? {} : { 'A2A-Version': version }),
      },
      body: raw ?? JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('answers malformed requests with A2A errors and keeps serving', async () => {
    expect((await rpc('1.0', undefined, '{"jsonrpc": "2.0", ')).body).toMatchObject({
      error: { code: -32700 },
    });
    expect((await rpc('1.0', [{ jsonrpc: '2.0', id: 1, method: 'GetTask' }])).body).toMatchObject({
      error: { code: -32600 },
    });
    const noParts = {
      jsonrpc: '2.0',
      id: 3,
      method: 'SendMessage',
      params: { message: { messageId: 'x', role: 'ROLE_USER', parts: [] } },
    };
    expect((await rpc('1.0', noParts)).body).toMatchObject({
      id: 3,
      error: { code: -32602, message: expect.stringMatching(/parts/) },
    });
    const file = {
      jsonrpc: '2.0',
      id: 4,
      method: 'SendMessage',
      params: { message: { messageId: 'x', role: 'ROLE_USER', parts: [{ url: 'file:///etc/passwd' }] } },
    };
    expect((await rpc('1.0', file)).body).toMatchObject({ id: 4, error: { code: -32045 } });
    expect(
      (await rpc('9.9', { jsonrpc: '2.0', id: 5, method: 'GetTask', params: { id: 'x' } })).body,
    ).toMatchObject({
      error: { code: -32009 },
    });
    expect(node.events.some((event) => event.type === 'malformed_request')).toBe(true);
    const task = (await client.sendMessage(signed('still up'), declared)) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('serves v0.3 method names (message/send) through the same gate', async () => {
    const legacy = {
      jsonrpc: '2.0',
      id: 'legacy-1',
      method: 'message/send',
      params: {
        message: {
          kind: 'message',
          messageId: randomUUID(),
          role: 'user',
          parts: [{ kind: 'text', text: 'hi' }],
        },
      },
    };
    const answer = await fetch(`${node.url}/a2a/alice`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-A2A-Extensions': OACP_A2A_EXTENSION },
      body: JSON.stringify(legacy),
    });
    expect(await answer.json()).toMatchObject({ id: 'legacy-1', error: { code: -32040 } });
  });

  it('answers 404 for an agent it does not serve', async () => {
    expect((await fetch(`${node.url}/a2a/nobody/.well-known/agent-card.json`)).status).toBe(404);
  });
});
