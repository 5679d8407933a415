import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callA2aAgent, MAX_CHECKED_ARTIFACTS } from '../../src/a2a/client.js';
import type { Signer } from '../../src/core/ed25519.js';
import { startNode, type TestNode } from './harness.js';

/**
 * Two gateways on two loopback ports, each with its own home (keys, log,
 * store) and trust graph. Each side checks the other: the receiver checks the
 * sender's signature and its trust edge; the sender checks the receiver's
 * card and the execution receipts of what came back.
 */
describe('two OACP gateways exchange tasks with verification on both sides', () => {
  let east: TestNode;
  let west: TestNode;
  let alice: { did: string; signer: Signer };
  let carol: { did: string; signer: Signer };
  let bob: { did: string; signer: Signer };

  beforeAll(async () => {
    // East knows its own agents first, then West is told which of them may write to bob.
    east = await startNode();
    alice = await east.agent('alice');
    carol = await east.agent('carol');
    west = await startNode([{ from: alice.did, to: 'bob' }]);
    bob = await west.agent('bob');
  });
  afterAll(async () => {
    await Promise.all([east?.close(), west?.close()]);
  });

  it('attack: a task answered with 300 copies of its artifact makes at most 64 proof fetches, and the extra copies are Untrusted', async () => {
    let proofFetches = 0;
    /** Every `artifacts` array in the answer, its one artifact repeated 300 times. */
    const repeat = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(repeat);
      if (typeof value !== 'object' || value === null) return value;
      return Object.fromEntries(
        Object.entries(value).map(([key, inner]) =>
          key === 'artifacts' && Array.isArray(inner) && inner.length > 0
            ? [key, new Array(300).fill(inner[0])]
            : [key, repeat(inner)],
        ),
      );
    };
    const hostile: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (init?.method !== 'POST') {
        if (/\/receipts\//.test(String(input))) proofFetches++;
        return answer;
      }
      const body = repeat(await answer.json());
      return new Response(JSON.stringify(body), { status: answer.status, headers: answer.headers });
    };
    const result = await callA2aAgent({
      url: `${west.url}/a2a/bob`,
      text: 'many',
      signer: alice.signer,
      expectDid: bob.did,
      fetch: hostile,
    });
    expect(result.artifacts).toHaveLength(300);
    expect(proofFetches).toBeGreaterThan(0);
    expect(proofFetches).toBeLessThanOrEqual(MAX_CHECKED_ARTIFACTS);
    expect(result.artifacts[MAX_CHECKED_ARTIFACTS]?.checks).toEqual([
      {
        name: 'artifact-count',
        ok: false,
        detail: `the task returned 300 artifacts; at most ${MAX_CHECKED_ARTIFACTS} are checked`,
      },
    ]);
    expect(result.trustLevel).toBe('Untrusted');
  });

  it("alice (east) sends bob (west) a task; bob's result arrives with a Standard execution proof", async () => {
    const result = await callA2aAgent({
      url: `${west.url}/a2a/bob`,
      text: 'hello from the east',
      data: [{ n: 1 }],
      signer: alice.signer,
      expectDid: bob.did,
    });
    expect(result.card).toMatchObject({ status: 'verified', did: bob.did });
    expect(result.state).toBe('completed');
    const [artifact] = result.artifacts;
    expect(artifact?.output?.value).toEqual({ echo: 'hello from the east', from: alice.did, items: 1 });
    expect(artifact?.checks.every((check) => check.ok)).toBe(true);
    expect(artifact?.checks.map((check) => check.name)).toEqual(
      expect.arrayContaining(['log-inclusion', 'receipt-inputs', 'receipt-outputs', 'agent-signature']),
    );
    expect(result.trustLevel).toBe('Standard');
    // West logged the run; east's log did not grow by it.
    expect(west.gateway.node.log.size).toBeGreaterThan(artifact?.receiptIndex ?? Number.POSITIVE_INFINITY);
  });

  it('west refuses carol, whom no trust edge names, and records why', async () => {
    await expect(
      callA2aAgent({ url: `${west.url}/a2a/bob`, text: 'let me in', signer: carol.signer }),
    ).rejects.toMatchObject({ code: 'A2A_SEND_FAILED', message: expect.stringMatching(/OACP_TRUST_DENIED/) });
    expect(west.events.at(-1)).toMatchObject({ type: 'trust_denied', agent: 'bob', sender: carol.did });
  });

  it('the trust graph is directed: bob may not write to alice unless east says so', async () => {
    await expect(
      callA2aAgent({ url: `${east.url}/a2a/alice`, text: 'reply', signer: bob.signer }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/OACP_TRUST_DENIED/) });
    expect(east.events.at(-1)).toMatchObject({ type: 'trust_denied', agent: 'alice', sender: bob.did });
  });

  it('encrypts the result to the sender when asked: only alice can read it', async () => {
    let wire = '';
    const spy: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === 'POST') {
        wire = await response.clone().text();
      }
      return response;
    };
    const result = await callA2aAgent({
      url: `${west.url}/a2a/bob`,
      text: 'the secret plan',
      signer: alice.signer,
      encrypt: true,
      fetch: spy,
    });
    expect(result.artifacts[0]?.output?.value).toMatchObject({ echo: 'the secret plan' });
    expect(result.artifacts[0]?.checks.find((check) => check.name === 'artifact-decryption')?.ok).toBe(true);
    expect(result.trustLevel).toBe('Standard');
    // The task's history repeats the request (sent in clear); the artifacts must be one JWE for alice.
    const artifacts = JSON.stringify(
      (JSON.parse(wire) as { result: { task: { artifacts: unknown } } }).result.task.artifacts,
    );
    expect(artifacts).toContain('application/jose');
    expect(artifacts).not.toContain('the secret plan');
  });

  it('catches a result changed in transit: the receipt no longer matches, so Untrusted', async () => {
    const tamper: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method !== 'POST') return response;
      const text = (await response.text()).replace('"echo":"transfer 10"', '"echo":"transfer 10000"');
      return new Response(text, { status: response.status, headers: response.headers });
    };
    const result = await callA2aAgent({
      url: `${west.url}/a2a/bob`,
      text: 'transfer 10',
      signer: alice.signer,
      fetch: tamper,
    });
    expect(result.artifacts[0]?.output?.value).toMatchObject({ echo: 'transfer 10000' });
    expect(result.artifacts[0]?.checks.find((check) => check.name === 'receipt-outputs')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/mismatch/),
    });
    expect(result.trustLevel).toBe('Untrusted');
  });

  it('catches a card whose did was swapped for an impostor when the caller pinned the real one', async () => {
    await expect(
      callA2aAgent({ url: `${west.url}/a2a/bob`, text: 'x', signer: alice.signer, expectDid: alice.did }),
    ).rejects.toMatchObject({ code: 'A2A_CARD_INVALID', message: expect.stringMatching(/expected/) });
  });

  it('streams across nodes too', async () => {
    const result = await callA2aAgent({
      url: `${west.url}/a2a/bob`,
      text: 'streamed',
      signer: alice.signer,
      stream: true,
    });
    expect(result.state).toBe('completed');
    expect(result.trustLevel).toBe('Standard');
  });
});
