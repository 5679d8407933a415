import { randomUUID } from 'node:crypto';
import { type Task, TaskState } from '@a2a-js/sdk';
import { InMemoryTaskStore, UnauthenticatedUser, type User } from '@a2a-js/sdk/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveEmbedded, startNode, type TestNode } from './harness.js';
import { a2aClientAt, plainRequest, sendRequest, textMessage } from './signed-message.js';

/** A caller the embedding server authenticated by its bearer token. */
const named = (userName: string): User => ({ isAuthenticated: true, userName });
const TOKENS: Record<string, User> = { 'token-ann': named('ann'), 'token-bob': named('bob') };

/**
 * Closing note 6: where unsigned messages are allowed (an embedder's
 * createA2aServer with signedMessagesRequired: false), a task they made was
 * readable by anyone who had its id. It is bound to the caller the embedding
 * server authenticated (`user`, the SDK's User). The readers are the official
 * @a2a-js/sdk client, unchanged, over real HTTP; the agent runs in a real
 * gateway's standard-tier sandbox.
 */
describe("A2A: a task from an unsigned message is its caller's alone", () => {
  let node: TestNode;
  const closers: (() => Promise<void>)[] = [];
  /** The same agent behind two servers: the SDK's task store, kept per caller, and one shared by every caller. */
  const origins: Record<'per-caller' | 'shared', string> = { 'per-caller': '', shared: '' };
  let builderFails = false;

  beforeAll(async () => {
    node = await startNode();
    await node.agent('alice');
    for (const store of ['per-caller', 'shared'] as const) {
      const embedded = await serveEmbedded(node, {
        signedMessagesRequired: false,
        user: (request) => {
          if (builderFails) throw new Error('the session store is down (secret-token-xyz)');
          const token = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? '';
          return TOKENS[token] ?? new UnauthenticatedUser();
        },
        // A store that does not keep tasks apart by caller (as a custom one may not): OACP's check alone decides.
        ...(store === 'shared' ? { taskStore: () => new InMemoryTaskStore(() => 'everyone') } : {}),
      });
      origins[store] = embedded.origin;
      closers.push(embedded.close);
    }
  }, 60_000);
  afterAll(async () => {
    for (const close of closers) await close();
    await node?.close();
  });

  const as = (token?: string) =>
    token === undefined ? undefined : { serviceParameters: { authorization: `Bearer ${token}` } };
  const clientOf = (store: keyof typeof origins) => a2aClientAt(origins[store], 'alice');
  const send = async (store: keyof typeof origins, token: string | undefined, text: string) => {
    const task = (await (await clientOf(store)).sendMessage(plainRequest(text), as(token))) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    return task;
  };
  const notFound = (id: string) => ({ envelopeCode: -32001, message: `Task not found: ${id}` });

  describe.each(['per-caller', 'shared'] as const)('task store kept %s', (store) => {
    it("attack: another caller, or an anonymous one, holding the task's id reads nothing: tasks/get, resubscribe and cancel answer exactly as for an id never made", async () => {
      const client = await clientOf(store);
      const neverMade = randomUUID();
      const bar = await client
        .getTask({ tenant: '', id: neverMade, historyLength: 0 })
        .catch((e: unknown) => e);
      expect(bar).toMatchObject(notFound(neverMade));

      const task = await send(store, 'token-ann', 'for ann only');
      const got = await client.getTask({ tenant: '', id: task.id, historyLength: 0 }, as('token-ann'));
      expect(got.id).toBe(task.id);
      expect(got.artifacts).toHaveLength(1);
      for (const stranger of ['token-bob', 'token-unknown', undefined]) {
        const read = await client
          .getTask({ tenant: '', id: task.id, historyLength: 0 }, as(stranger))
          .catch((e: unknown) => e);
        expect(read).toMatchObject(notFound(task.id));
        expect(read?.constructor).toBe(bar?.constructor);
        await expect(
          client.resubscribeTask({ tenant: '', id: task.id }, as(stranger)).next(),
        ).rejects.toMatchObject(notFound(task.id));
        await expect(
          client.cancelTask({ tenant: '', id: task.id, metadata: undefined }, as(stranger)),
        ).rejects.toMatchObject(notFound(task.id));
      }
      // The owner passes the check; the SDK then refuses to cancel a task already completed.
      await expect(
        client.cancelTask({ tenant: '', id: task.id, metadata: undefined }, as('token-ann')),
      ).rejects.toMatchObject({ envelopeCode: -32002 });
    });

    it('a task an anonymous caller made is read by nobody afterwards, anonymous callers included', async () => {
      const task = await send(store, undefined, 'anonymous');
      const client = await clientOf(store);
      for (const reader of ['token-ann', undefined]) {
        await expect(
          client.getTask({ tenant: '', id: task.id, historyLength: 0 }, as(reader)),
        ).rejects.toMatchObject(notFound(task.id));
      }
    });

    it("attack: a follow-up message naming another caller's task is refused; the owner's passes OACP's check", async () => {
      const task = await send(store, 'token-ann', 'start');
      const client = await clientOf(store);
      const followUp = () =>
        sendRequest({ ...textMessage('me too'), taskId: task.id, contextId: task.contextId });
      for (const stranger of ['token-bob', undefined]) {
        const refused = await client.sendMessage(followUp(), as(stranger)).catch((e: unknown) => e);
        // A store kept per caller finds no such task; a shared one finds it, and OACP refuses it.
        expect(refused).toMatchObject(
          store === 'per-caller'
            ? notFound(task.id)
            : { envelopeCode: -32043, message: expect.stringMatching(/belongs to another caller/) },
        );
      }
      // The owner's follow-up passes; the SDK then refuses a task already completed.
      const owner = await client.sendMessage(followUp(), as('token-ann')).catch((e: unknown) => e);
      expect(owner).toMatchObject({ message: expect.stringMatching(/terminal state/) });
    });
  });

  it("a caller check that fails refuses the request, without repeating the check's error", async () => {
    const client = await clientOf('per-caller');
    builderFails = true;
    try {
      const error = await client.sendMessage(plainRequest('x'), as('token-ann')).catch((e: unknown) => e);
      expect(error).toMatchObject({
        envelopeCode: -32050,
        message: expect.stringMatching(/OACP_CALLER_UNIDENTIFIED: the caller could not be identified/),
      });
      expect(JSON.stringify(error)).not.toContain('secret-token-xyz');
    } finally {
      builderFails = false;
    }
  });
});
