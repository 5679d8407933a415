import { randomUUID } from 'node:crypto';
import type { TaskStore } from '@a2a-js/sdk/server';
import type { RefusalReceiptLimits } from '../airlock/quota/refusal-limit.js';
import { type Envelope, EnvelopeSchema } from '../attest/dsse.js';
import type { Signer } from '../core/ed25519.js';
import { describeError, oacpCodeOf } from '../core/errors.js';
import { jcsDigest } from '../core/jcs.js';
import type { SecretValues } from '../core/secret-values.js';
import type { NonceStore } from '../identity/nonce-store.js';
import type { A2aAgent, A2aAgentDirectory, A2aExecutor, A2aSecurityEvent, LoggedReceipt } from './agent.js';
import type { A2aTaskInput } from './extension.js';
import type { HttpRefusal } from './http-refusal.js';
import { type InboundChecks, type InboundReceipts, unrunRefusalRecord } from './inbound-calls.js';
import { type A2aServer, createA2aServer } from './server.js';
import { type TrustEdge, TrustGraph } from './trust-graph.js';

/**
 * The gateway's parts the A2A server needs, described by shape (this layer
 * sits below the gateway and cannot import it): its agent directory, its
 * runtime, its log, and its keys. `createGateway` passes its own objects.
 */
export interface GatewayAgentView {
  readonly id: string;
  readonly name: string;
  readonly manifest: unknown;
  readonly state: string;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
}

export interface GatewayA2aParts {
  readonly agents: {
    list(): Promise<readonly GatewayAgentView[]>;
    get(ref: string): Promise<GatewayAgentView | undefined>;
    signer(id: string): Promise<Signer | undefined>;
  };
  readonly runtime: {
    run(
      did: string,
      request: { input?: unknown },
    ): Promise<{ value: unknown; logs: readonly string[]; receipt: { index: number } }>;
  };
  readonly log: { entry(index: number): Promise<Uint8Array>; readonly verifierKey: string };
  readonly origin: string;
  readonly airlockKeys: readonly Uint8Array[];
  /** oacp.yaml `a2a.trust`. */
  readonly trust: readonly TrustEdge[];
  readonly nonces: NonceStore;
  readonly publicUrl?: () => string | undefined;
  readonly onSecurityEvent?: (event: A2aSecurityEvent) => void;
  /** Where refused messages are recorded (the gateway's ReceiptRecorder, through OacpNode.record). */
  readonly receipts?: InboundReceipts;
  /** oacp.yaml `a2a.refusal_receipts`: receipts for refusals of unauthenticated input, per source and overall. */
  readonly refusalReceipts?: RefusalReceiptLimits;
  /** The gateway's global policies (`a2a/message`) and the receiving agent's quota. */
  readonly checks?: InboundChecks;
  /** Where tasks live (the shared store in a cluster); in memory when absent. */
  readonly taskStore?: (agent: A2aAgent) => TaskStore;
  /** In a cluster, relays a request for an agent another node runs to that node (A2aServerOptions.forward). */
  readonly forward?: (agent: A2aAgent, request: Request, body: string) => Promise<Response | undefined>;
  /** In a cluster, whether a request was relayed by another member (A2aServerOptions.relayed). */
  readonly relayed?: (request: Request) => boolean;
  /**
   * In a cluster, where callers read this node's receipts and checkpoint through any member
   * (relative to the base URL; `{index}` in `receipts`): cards name these, so a receipt is
   * always read from the log it is in, whichever node the caller asks.
   */
  readonly logPaths?: { readonly receipts: string; readonly checkpoint: string };
  /**
   * In a cluster, when a message found the agent not running here (it is between owners: a
   * migration moved it, a lapsed lease is being re-placed, this node has not heard it owns it or is
   * still starting it): waits, bounded, until it runs here, and throws (saying the run did not
   * happen) when it runs elsewhere now or nowhere in time (GatewayCluster.awaitRunningHere).
   */
  readonly awaitRunning?: (did: string) => Promise<void>;
  /** The gateway's live secret values (what its vault handed the agents): masked in a failed run's error, which goes to the caller. */
  readonly secrets?: SecretValues;
  /** How the gateway answers an error thrown outside the JSON-RPC layer (A2aServerOptions.failure). */
  readonly failure?: (error: unknown) => HttpRefusal;
}

/** The gateway's running agents as A2A agents, and its runtime as their executor. */
export function gatewayA2aServer(parts: GatewayA2aParts): A2aServer {
  return createA2aServer({
    agents: gatewayDirectory(parts),
    executor: gatewayExecutor(parts),
    trust: new TrustGraph(parts.trust),
    nonces: parts.nonces,
    node: {
      logOrigin: parts.origin,
      logVerifierKey: parts.log.verifierKey,
      airlockKeys: parts.airlockKeys,
      ...(parts.logPaths === undefined
        ? {}
        : { receiptsPath: parts.logPaths.receipts, checkpointPath: parts.logPaths.checkpoint }),
    },
    ...(parts.publicUrl === undefined ? {} : { publicUrl: parts.publicUrl }),
    ...(parts.onSecurityEvent === undefined ? {} : { onSecurityEvent: parts.onSecurityEvent }),
    ...(parts.receipts === undefined ? {} : { receipts: parts.receipts }),
    ...(parts.refusalReceipts === undefined ? {} : { refusalReceipts: parts.refusalReceipts }),
    ...(parts.checks === undefined ? {} : { checks: parts.checks }),
    ...(parts.taskStore === undefined ? {} : { taskStore: parts.taskStore }),
    ...(parts.forward === undefined ? {} : { forward: parts.forward }),
    ...(parts.relayed === undefined ? {} : { relayed: parts.relayed }),
    ...(parts.failure === undefined ? {} : { failure: parts.failure }),
  });
}

/** Only running agents whose key the gateway holds are served: the card must be signed by the agent. */
export function gatewayDirectory(parts: GatewayA2aParts): A2aAgentDirectory {
  const view = async (agent: GatewayAgentView): Promise<A2aAgent | undefined> => {
    if (agent.state !== 'running') return undefined;
    const signer = await parts.agents.signer(agent.id);
    if (signer === undefined) return undefined;
    const described = agent.attributes.description;
    return {
      did: agent.id,
      name: agent.name,
      description: typeof described === 'string' ? described : `OACP agent ${agent.name}`,
      skills: [
        {
          id: 'main',
          name: agent.name,
          description:
            'Runs the agent program main(input) in its sandbox on the message (input: {messageId, text, data, from}).',
          tags: ['oacp'],
        },
      ],
      signer,
      tier: 'standard',
      manifestDigest: jcsDigest(agent.manifest),
    };
  };
  return {
    async list() {
      const all = await Promise.all((await parts.agents.list()).map(view));
      return all.filter((agent): agent is A2aAgent => agent !== undefined);
    },
    async get(name) {
      if (name.startsWith('did:')) return undefined;
      const agent = await parts.agents.get(name);
      return agent === undefined ? undefined : view(agent);
    },
    // Any agent of this node, running or not: a trust edge may name it as a sender.
    async localName(did) {
      return did.startsWith('did:key:') ? (await parts.agents.get(did))?.name : undefined;
    },
  };
}

export function gatewayExecutor(parts: GatewayA2aParts): A2aExecutor {
  const logged = async (index: number): Promise<LoggedReceipt> => ({
    index,
    envelope: EnvelopeSchema.parse(
      JSON.parse(Buffer.from(await parts.log.entry(index)).toString('utf8')),
    ) as Envelope,
  });
  const mask = (text: string) => (parts.secrets === undefined ? text : parts.secrets.mask(text));
  const run = async (agent: A2aAgent, input: A2aTaskInput) => {
    try {
      return await parts.runtime.run(agent.did, { input });
    } catch (error) {
      // It never ran: once it runs here it runs once; elsewhere (the message's nonce is spent
      // here, so it cannot be handed on) the task fails saying it did not run.
      if (parts.awaitRunning === undefined || oacpCodeOf(error) !== 'RUNTIME_AGENT_NOT_RUNNING') throw error;
      try {
        await parts.awaitRunning(agent.did);
      } catch (moved) {
        throw new NotRunHere(agent, moved);
      }
      return parts.runtime.run(agent.did, { input });
    }
  };
  /** One receipt for an admitted message that did not run (it was received, checked and refused). */
  const recordUnrun = async (agent: A2aAgent, input: A2aTaskInput, reason: string, startedAt: Date) => {
    try {
      return (await parts.receipts?.record(unrunRefusalRecord(agent, randomUUID(), input, reason, startedAt)))
        ?.index;
    } catch {
      // The task fails saying it did not run either way; without its receipt then.
      return undefined;
    }
  };
  return async (agent, input) => {
    const startedAt = new Date();
    try {
      const result = await run(agent, input);
      return {
        ok: true,
        output: { value: result.value, logs: result.logs },
        receipt: await logged(result.receipt.index),
      };
    } catch (error) {
      const unrun = error instanceof NotRunHere;
      const message = mask(describeError(error));
      // A failed run is receipted by the runtime (RuntimeError.details.receipt); a message that
      // never ran here is receipted as refused. The caller gets the receipt with the failure.
      const index = unrun ? await recordUnrun(agent, input, message, startedAt) : receiptIndexOf(error);
      return { ok: false, error: message, ...(index === undefined ? {} : { receipt: await logged(index) }) };
    }
  };
}

/**
 * An admitted message whose agent no longer runs on this node and did not come back within the
 * wait. Its words are fixed (they go to the caller and into a public receipt): the cluster's own
 * error may name an etcd address; its code says which case it was, its cause goes with it.
 */
class NotRunHere extends Error {
  constructor(agent: A2aAgent, cause: unknown) {
    const code = oacpCodeOf(cause) ?? 'INTERNAL';
    super(
      `agent ${agent.name} moved off this node while the message waited to run, and it runs elsewhere or nowhere now (${code}); the message did not run; send it again`,
      { cause },
    );
    this.name = 'NotRunHere';
  }
}

function receiptIndexOf(error: unknown): number | undefined {
  const details = (error as { details?: { receipt?: { index?: unknown } } } | undefined)?.details;
  const index = details?.receipt?.index;
  return typeof index === 'number' ? index : undefined;
}
