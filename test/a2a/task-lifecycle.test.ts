import { TaskState } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callA2aAgent } from '../../src/a2a/client.js';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { signCancel, signTaskAccess, TASK_SIGNATURE_HEADER } from '../../src/a2a/message-signature.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { startNode, type TestNode } from './harness.js';
import { a2aClientAt, DECLARED, signedRequest } from './signed-message.js';

const FAILING_AGENT = `function main(input) { throw new Error('cannot do ' + input.text); }`;
// Long enough (well under the 1 s CPU limit) that a cancel sent on the first event lands mid-run.
const SLOW_AGENT = `function main(input) { let x = 0; for (let i = 0; i < 2e6; i++) x += i % 7; return x; }`;

describe('task outcomes: failures keep their receipt, cancels stop the task', () => {
  let node: TestNode;
  let failing: { did: string };
  let slow: { did: string };
  const caller = keySigner(generateEd25519().privateKey);

  beforeAll(async () => {
    const from = didKeyFromPublicKey(caller.publicKey);
    node = await startNode([
      { from, to: 'failing' },
      { from, to: 'slow' },
    ]);
    failing = await node.agent('failing', FAILING_AGENT);
    slow = await node.agent('slow', SLOW_AGENT);
  });
  afterAll(async () => node?.close());

  it('answers a failed run with state failed, the reason, and the receipt of the failed run', async () => {
    const result = await callA2aAgent({
      url: `${node.url}/a2a/failing`,
      text: 'the impossible',
      signer: caller,
    });
    expect(result.state).toBe('failed');
    expect(result.statusText).toMatch(/cannot do the impossible/);
    expect(result.artifacts).toEqual([]);
    expect(result.trustLevel).toBe('Untrusted');
    expect(failing.did).toMatch(/^did:key:/);
  });

  it('puts the failed run receipt in the status message metadata', async () => {
    const client = await clientFor('failing');
    const task = await client.sendMessage(request(failing.did, 'again'), DECLARED);
    if (!('status' in task)) throw new Error('expected a task');
    const ext = task.status?.message?.metadata?.[OACP_A2A_EXTENSION] as
      | { receipt?: { index: number } }
      | undefined;
    expect(ext?.receipt?.index).toBeGreaterThan(0);
  });

  it("cancels a running task at its sender's signed request", async () => {
    const client = await clientFor('slow');
    let taskId: string | undefined;
    let final: TaskState | undefined;
    for await (const event of client.sendMessageStream(request(slow.did, 'count'), DECLARED)) {
      if (event.payload?.$case === 'task' && taskId === undefined) {
        taskId = event.payload.value.id;
        const metadata = { [OACP_A2A_EXTENSION]: { signature: signCancel(taskId, slow.did, caller) } };
        const cancelled = await client.cancelTask({ tenant: '', id: taskId, metadata });
        expect(cancelled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
      }
      if (event.payload?.$case === 'statusUpdate') final = event.payload.value.status?.state;
      if (event.payload?.$case === 'artifactUpdate')
        throw new Error('a cancelled task must not deliver a result');
    }
    expect(final).toBe(TaskState.TASK_STATE_CANCELED);
    const got = await client.getTask(
      { tenant: '', id: taskId ?? '', historyLength: 0 },
      { serviceParameters: { [TASK_SIGNATURE_HEADER]: signTaskAccess(taskId ?? '', slow.did, caller) } },
    );
    expect(got.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(got.artifacts).toEqual([]);
  });

  const clientFor = (name: string) => a2aClientAt(node.url, name);
  const request = (to: string, text: string) => signedRequest(caller, to, text);
});
