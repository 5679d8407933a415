import { AgentCard } from '@a2a-js/sdk';
import { type Client, ClientFactory, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OACP_JSONRPC_CODES } from '../../src/a2a/jsonrpc-errors.js';
import { clusterError } from '../../src/cluster/errors.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { refusalOf, toHttpFailure } from '../../src/gateway/http/errors.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { type EmbeddedServer, serveEmbedded, startNode, type TestNode } from './harness.js';
import { DECLARED, signedRequest } from './signed-message.js';

const caller = keySigner(generateEd25519().privateKey);

/** An internal address a relay's own error names: it must never reach the A2A caller. */
const INTERNAL_URL = 'http://10.1.2.3:7443';

/** What the official client threw, as the JSON-RPC error it read (JsonRpcTransportError or a typed one). */
interface ReadError {
  readonly name: string;
  readonly message: string;
  readonly envelopeCode?: number;
  readonly errorResponse?: { readonly id: unknown };
}

/**
 * Every answer on an A2A JSON-RPC endpoint is a JSON-RPC response (A2A §9, JSON-RPC 2.0 §5), the
 * gateway's own refusals included: the Host guard, the body limit, a relay to the agent's node that
 * failed (owner unreachable, agent between nodes, hop limit). The official @a2a-js/sdk client then
 * throws the JSON-RPC error it can act on, never a parse or HTTP error; the id is the request's
 * (null when its body was not read) and the words name no internal URL.
 */
describe('A2A: the gateway refuses in JSON-RPC on the JSON-RPC endpoint', () => {
  let node: TestNode;
  let alice: { did: string };
  let card: AgentCard;
  /** The ids the client put in its requests, in order. */
  const sentIds: unknown[] = [];
  const recording: typeof fetch = async (input, init) => {
    if (typeof init?.body === 'string') sentIds.push((JSON.parse(init.body) as { id?: unknown }).id);
    return fetch(input, init);
  };
  /** The official client for the card's agent, at `url` (another agent's path, another server). */
  const clientAt = (url: string): Promise<Client> => {
    const at = AgentCard.fromJSON({
      ...(AgentCard.toJSON(card) as Record<string, unknown>),
      supportedInterfaces: [{ url, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' }],
    });
    return new ClientFactory({
      transports: [new JsonRpcTransportFactory({ fetchImpl: recording })],
    }).createFromAgentCard(at);
  };
  const refusedBy = async (call: Promise<unknown>): Promise<ReadError> => {
    const error = await call.then(
      () => undefined,
      (thrown: unknown) => thrown as ReadError,
    );
    if (error === undefined) throw new Error('the call was answered, not refused');
    return error;
  };
  const send = (client: Client, options = DECLARED) =>
    client.sendMessage(signedRequest(caller, alice.did, 'hello'), options);
  const stream = async (client: Client) => {
    for await (const _ of client.sendMessageStream(signedRequest(caller, alice.did, 'hello'), DECLARED)) {
      // The first event would mean it was answered.
    }
  };

  beforeAll(async () => {
    node = await startNode([{ from: didKeyFromPublicKey(caller.publicKey), to: 'alice' }]);
    alice = await node.agent('alice');
    card = AgentCard.fromJSON(
      await (await fetch(`${node.url}/a2a/alice/.well-known/agent-card.json`)).json(),
    );
  });
  afterAll(async () => node?.close());

  it('attack: a web page of another origin (the Host guard) gets -32052 with id null, status 403', async () => {
    const client = await clientAt(`${node.url}/a2a/alice`);
    const options = { serviceParameters: { ...DECLARED.serviceParameters, Origin: 'http://evil.example' } };
    const error = await refusedBy(send(client, options));
    expect(error).toMatchObject({
      name: 'JsonRpcTransportError',
      envelopeCode: OACP_JSONRPC_CODES.OACP_REQUEST_REFUSED,
      errorResponse: { id: null },
    });
    expect(error.message).toMatch(
      /^OACP_REQUEST_REFUSED: HOST_REFUSED: the Origin header must be a page on this loopback host/,
    );
    const raw = await fetch(`${node.url}/a2a/alice`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: {} }),
    });
    expect(raw.status).toBe(403);
    expect(await raw.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32052 } });
  });

  it('attack: a body over the limit for an agent not served here gets -32046 with id null, status 413', async () => {
    const client = await clientAt(`${node.url}/a2a/nobody`);
    const big = signedRequest(caller, alice.did, 'x'.repeat(2 * 1024 * 1024));
    const error = await refusedBy(client.sendMessage(big, DECLARED));
    expect(error).toMatchObject({
      envelopeCode: OACP_JSONRPC_CODES.OACP_MESSAGE_LIMITS,
      errorResponse: { id: null },
    });
    expect(error.message).toMatch(/^OACP_MESSAGE_LIMITS: PAYLOAD_TOO_LARGE: /);
  });

  describe('a relay to the node that runs the agent that failed', () => {
    let relaying: EmbeddedServer;
    let failure: Error = new Error('unset');
    beforeAll(async () => {
      relaying = await serveEmbedded(node, {
        forward: async () => {
          throw failure;
        },
        // As the gateway composes it (src/gateway/gateway.ts): its one status map, then JSON-RPC.
        failure: (error) => refusalOf(toHttpFailure(error)),
      });
    });
    afterAll(async () => relaying?.close());

    const faults: [string, () => Error][] = [
      [
        'the agent between nodes past the wait (CLUSTER_NOT_OWNER)',
        () =>
          clusterError(
            'CLUSTER_NOT_OWNER',
            `agent ${alice.did} moved on to the node at ${INTERNAL_URL} while this run was forwarded to gw-1; the run did not happen; retry`,
          ),
      ],
      [
        'the owner unreachable (CLUSTER_UNAVAILABLE)',
        () => clusterError('CLUSTER_UNAVAILABLE', `the node at ${INTERNAL_URL} did not answer; retry`),
      ],
      [
        'etcd unreadable (CLUSTER_UNAVAILABLE)',
        () =>
          clusterError(
            'CLUSTER_UNAVAILABLE',
            'cannot read the owner from etcd (connect ECONNREFUSED 10.1.2.3:2379)',
          ),
      ],
    ];
    for (const [what, fault] of faults) {
      it(`fault: ${what} is -32051 OACP_UNAVAILABLE with the request's id, status 503 and Retry-After, naming no internal address`, async () => {
        failure = fault();
        const client = await clientAt(`${relaying.origin}/a2a/alice`);
        for (const call of [
          () => send(client),
          () => stream(client),
          () => client.getTask({ tenant: '', id: 'task-1', historyLength: 0 }),
          () => client.cancelTask({ tenant: '', id: 'task-1', metadata: {} }),
        ]) {
          const error = await refusedBy(call());
          expect(error).toMatchObject({
            name: 'JsonRpcTransportError',
            envelopeCode: OACP_JSONRPC_CODES.OACP_UNAVAILABLE,
          });
          expect(error.errorResponse?.id).toBe(sentIds.at(-1));
          expect(error.errorResponse?.id).not.toBeNull();
          expect(error.message).toMatch(/^OACP_UNAVAILABLE: CLUSTER_\w+: .*nothing ran; retry$/);
          expect(error.message).not.toMatch(/10\.1\.2\.3|http:/);
        }
        const raw = await fetch(`${relaying.origin}/a2a/alice`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 'r-7', method: 'GetTask', params: { id: 't' } }),
        });
        expect(raw.status).toBe(503);
        expect(raw.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(await raw.json()).toEqual({
          jsonrpc: '2.0',
          id: 'r-7',
          error: { code: -32051, message: expect.any(String) },
        });
      });
    }

    it('fault: an unexpected error in the relay is -32603 with the request id, its words not repeated', async () => {
      failure = new Error(`socket hang up at ${INTERNAL_URL} (token sk-live-secret)`);
      const client = await clientAt(`${relaying.origin}/a2a/alice`);
      const error = await refusedBy(send(client));
      expect(error).toMatchObject({ envelopeCode: -32603, errorResponse: { id: sentIds.at(-1) } });
      expect(error.message).toBe('internal error; see the gateway log');
    });
  });
});
