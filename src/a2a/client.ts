import { randomUUID } from 'node:crypto';
import {
  AgentCard,
  type Message,
  Role,
  type SendMessageRequest,
  type Task,
  TaskState,
  taskStateToJSON,
} from '@a2a-js/sdk';
import {
  ClientFactory,
  JsonRpcTransportFactory,
  type RequestOptions,
  ServiceParameters,
  withA2AExtensions,
} from '@a2a-js/sdk/client';
import { z } from 'zod';
import { TRUST_LEVELS, type TrustLevel } from '../attest/trust-level.js';
import { cappedFetch, readCappedBody } from '../core/capped-body.js';
import { rawPrivateSeed, type Signer, signerKeyObject } from '../core/ed25519.js';
import { didKeyFromPublicKey } from '../identity/did-key.js';
import { type ArtifactCheck, checkArtifact } from './artifact-check.js';
import { type CardCheck, checkAgentCard } from './card-check.js';
import { a2aError } from './errors.js';
import { type A2aTaskInput, OACP_A2A_EXTENSION } from './extension.js';
import { signMessage } from './message-signature.js';
import { dataPart, textOfParts, textPart } from './parts.js';
import { cardDestinationReason, sameOriginFetch } from './peer-fetch.js';
import { collectStream } from './stream-result.js';
import { taskInput } from './task-input.js';

export interface A2aConnectOptions {
  /** The agent's base URL (its card is at <url>/.well-known/agent-card.json), or the card's own URL. */
  readonly url: string;
  /** Sign as this agent (its did:key is the sender the server's trust graph judges). */
  readonly signer?: Signer;
  /** Refuse unless the card is signed by this did:key. */
  readonly expectDid?: string;
  readonly fetch?: typeof fetch;
}

export interface A2aSendOptions {
  readonly text: string;
  /** Data parts to send after the text. */
  readonly data?: readonly unknown[];
  /** Ask for the result encrypted to the signer's did:key (the signer must hold its key in memory). */
  readonly encrypt?: boolean;
  /** message/stream instead of message/send. */
  readonly stream?: boolean;
}

export type A2aCallOptions = A2aConnectOptions & A2aSendOptions;

export interface A2aCallResult {
  readonly card: CardCheck;
  readonly cardName: string;
  /** The task's final state (`completed`, `failed`, ...), or `message` for a bare reply. */
  readonly state: string;
  readonly taskId?: string;
  /** Text of a status message (the reason of a failure) or a bare reply message. */
  readonly statusText: string;
  readonly artifacts: readonly ArtifactCheck[];
  /** Weakest level over the artifacts; Untrusted for a plain agent or when anything did not check. */
  readonly trustLevel: TrustLevel;
}

const CARD_PATH = '/.well-known/agent-card.json';
/** Far above any card or proof; an agent that streams without end is refused there. */
const MAX_CARD_BYTES = 1 << 20;

function cardUrlOf(url: string): string {
  return url.endsWith('.json') ? url : `${url.replace(/\/$/, '')}${CARD_PATH}`;
}

/**
 * Fetches an agent card (the raw JSON, in the SDK's form) from an agent URL or a card URL.
 * A redirect is followed only within the card URL's origin (peer-fetch.ts).
 */
export async function fetchAgentCard(url: string, fetchImpl: typeof fetch = fetch): Promise<AgentCard> {
  const cardUrl = cardUrlOf(url);
  let response: Response;
  try {
    response = await sameOriginFetch(fetchImpl)(cardUrl, {
      headers: { accept: 'application/json', 'A2A-Version': '1.0' },
    });
  } catch (error) {
    throw a2aError(
      'A2A_CARD_FETCH_FAILED',
      `cannot fetch ${cardUrl}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!response.ok) throw a2aError('A2A_CARD_FETCH_FAILED', `${cardUrl} answered HTTP ${response.status}`);
  const body = await readCappedBody(response.body, MAX_CARD_BYTES).catch(() => undefined);
  if (body === undefined) {
    throw a2aError('A2A_CARD_INVALID', `${cardUrl} answered more than 1 MiB, or its answer broke off`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw a2aError('A2A_CARD_INVALID', `${cardUrl} is not JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw a2aError('A2A_CARD_INVALID', `${cardUrl} is not a JSON object`);
  }
  return AgentCard.fromJSON(json);
}

/** Most bytes one answer of an agent (a task with its artifacts, or a whole event stream) may take. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** Artifacts of one task whose execution proofs are checked (each fetches its inclusion proof). */
export const MAX_CHECKED_ARTIFACTS = 64;

const ProofAnswer = z.object({ proof: z.string().min(1) });

/** An agent whose card was fetched and checked once; each `send` is one message and its checks. */
export interface A2aConnection {
  readonly card: CardCheck;
  readonly cardName: string;
  send(options: A2aSendOptions): Promise<A2aCallResult>;
}

/**
 * Fetches and checks the card, and prepares the official SDK client for the
 * interface it names. A card that claims OACP attestation and fails its
 * checks is refused here: nothing is ever sent to it.
 */
export async function connectA2aAgent(options: A2aConnectOptions): Promise<A2aConnection> {
  const fetchImpl = sameOriginFetch(options.fetch ?? fetch);
  const card = await fetchAgentCard(options.url, fetchImpl);
  const check = checkAgentCard(card, options.expectDid);
  if (check.status === 'invalid') throw a2aError('A2A_CARD_INVALID', `refusing to send: ${check.reason}`);
  // A card names where we POST and fetch proofs: never into our own network unless it came from there.
  const named = [
    ...card.supportedInterfaces.map((entry) => ({ what: 'interface url', url: entry.url })),
    ...(check.status === 'verified'
      ? [{ what: 'receipts url', url: check.params.receipts.replace('{index}', '0') }]
      : []),
  ];
  for (const { what, url } of named) {
    const reason = cardDestinationReason(cardUrlOf(options.url), url);
    if (reason !== undefined)
      throw a2aError('A2A_CARD_INVALID', `refusing to send: the card's ${what}: ${reason}`);
  }
  const client = await new ClientFactory({
    // The agent's answers (a task and its artifacts, or a stream of events) are read by the SDK whole.
    transports: [new JsonRpcTransportFactory({ fetchImpl: cappedFetch(fetchImpl, MAX_REPLY_BYTES) })],
  }).createFromAgentCard(card);
  // Declaring the extension (A2A-Extensions header) is how A2A lets an agent require it.
  const requestOptions: RequestOptions =
    check.status === 'verified'
      ? { serviceParameters: ServiceParameters.create(withA2AExtensions(OACP_A2A_EXTENSION)) }
      : {};
  const fetchProof = async (template: string, index: number): Promise<string> => {
    const url = template.replace('{index}', String(index));
    const response = await fetchImpl(url);
    if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
    const body = await readCappedBody(response.body, MAX_CARD_BYTES);
    if (body === undefined) throw new Error(`${url} answered more than 1 MiB`);
    return ProofAnswer.parse(JSON.parse(body.toString('utf8'))).proof;
  };

  const send = async (sendOptions: A2aSendOptions): Promise<A2aCallResult> => {
    const seed = decryptionSeed(options.signer, sendOptions.encrypt === true);
    let message: Message = {
      messageId: randomUUID(),
      contextId: '',
      taskId: '',
      role: Role.ROLE_USER,
      parts: [textPart(sendOptions.text), ...(sendOptions.data ?? []).map((value) => dataPart(value))],
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    };
    let from: string | null = null;
    if (check.status === 'verified' && options.signer !== undefined) {
      const sender = didKeyFromPublicKey(options.signer.publicKey);
      message = signMessage(message, options.signer, {
        to: check.did,
        ...(sendOptions.encrypt === true ? { encryptTo: sender } : {}),
      });
      from = sender;
    }
    const input: A2aTaskInput = taskInput(message, from);
    const request: SendMessageRequest = {
      tenant: '',
      message,
      configuration: {
        acceptedOutputModes: [],
        taskPushNotificationConfig: undefined,
        returnImmediately: false,
      },
      metadata: undefined,
    };
    let reply: Message | Task;
    try {
      reply =
        sendOptions.stream === true
          ? await collectStream(client.sendMessageStream(request, requestOptions))
          : await client.sendMessage(request, requestOptions);
    } catch (error) {
      throw a2aError('A2A_SEND_FAILED', error instanceof Error ? error.message : String(error), error);
    }

    if (!('status' in reply)) {
      return {
        card: check,
        cardName: card.name,
        state: 'message',
        statusText: textOfParts(reply.parts),
        artifacts: [],
        trustLevel: 'Untrusted',
      };
    }
    const task = reply;
    const artifacts: ArtifactCheck[] = [];
    for (const [at, artifact] of task.artifacts.entries()) {
      if (check.status === 'verified' && at >= MAX_CHECKED_ARTIFACTS) {
        // Each check fetches a proof from the agent's receipts URL: a task of 100,000 artifacts
        // would have us make 100,000 requests. Those past the bound are reported, not checked.
        artifacts.push({
          artifactId: artifact.artifactId,
          name: artifact.name,
          text: textOfParts(artifact.parts),
          checks: [
            {
              name: 'artifact-count',
              ok: false,
              detail: `the task returned ${task.artifacts.length} artifacts; at most ${MAX_CHECKED_ARTIFACTS} are checked`,
            },
          ],
          trustLevel: 'Untrusted',
        });
        continue;
      }
      if (check.status !== 'verified') {
        artifacts.push({
          artifactId: artifact.artifactId,
          name: artifact.name,
          text: textOfParts(artifact.parts),
          checks: [],
          trustLevel: 'Untrusted',
        });
        continue;
      }
      const params = check.params;
      artifacts.push(
        await checkArtifact(artifact, {
          params,
          input,
          ...(seed === undefined ? {} : { seed }),
          fetchProof: (index) => fetchProof(params.receipts, index),
        }),
      );
    }
    const state = taskStateToJSON(task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)
      .replace(/^TASK_STATE_/, '')
      .toLowerCase();
    const completed = task.status?.state === TaskState.TASK_STATE_COMPLETED;
    return {
      card: check,
      cardName: card.name,
      state,
      taskId: task.id,
      statusText: textOfParts(task.status?.message?.parts ?? []),
      artifacts,
      trustLevel:
        check.status === 'verified' && completed && artifacts.length > 0 ? weakest(artifacts) : 'Untrusted',
    };
  };
  return { card: check, cardName: card.name, send };
}

/**
 * `oacp a2a call` as a library: fetch and check the card, send the message
 * (signed when a signer is given and the agent is an OACP one), then check
 * each result artifact's execution proof. Against a plain A2A agent it still
 * works and reports Untrusted; against a card that claims OACP and fails its
 * checks it sends nothing.
 */
export async function callA2aAgent(options: A2aCallOptions): Promise<A2aCallResult> {
  // Checked before anything goes on the wire.
  decryptionSeed(options.signer, options.encrypt === true);
  const connection = await connectA2aAgent(options);
  return connection.send(options);
}

function weakest(artifacts: readonly ArtifactCheck[]): TrustLevel {
  let level = TRUST_LEVELS.length - 1;
  for (const artifact of artifacts) level = Math.min(level, TRUST_LEVELS.indexOf(artifact.trustLevel));
  return TRUST_LEVELS[level] ?? 'Untrusted';
}

function decryptionSeed(signer: Signer | undefined, encrypt: boolean): Uint8Array | undefined {
  if (!encrypt) return undefined;
  const key = signer === undefined ? undefined : signerKeyObject(signer);
  if (key === undefined) {
    throw a2aError(
      'A2A_OPTIONS_INVALID',
      'encrypted results need a signer whose key is in memory (the result is encrypted to its did:key)',
    );
  }
  return rawPrivateSeed(key);
}
