import { Message } from '@a2a-js/sdk';
import type { Signer } from '../core/ed25519.js';
import { canonicalize } from '../core/jcs.js';
import type { NonceStore } from '../identity/nonce-store.js';
import {
  type RequestVerdict,
  type SignedRequest,
  signRequest,
  verifySignedRequest,
} from '../identity/signed-request.js';
import { OACP_A2A_EXTENSION } from './extension.js';

/**
 * Signed messages ride inside the message (its metadata, under the extension
 * URI), not in an HTTP header: they survive every A2A transport and any relay,
 * and the SDK's own handlers pass them through untouched. The signed payload
 * is the RFC 8785 form of the message's A2A v1.0 ProtoJSON (the SDK's
 * normal form, so field order and defaults cannot differ between two SDKs)
 * with only the signature member left out; the purpose names the receiving
 * agent, so a message signed for one agent is refused by every other.
 */

export function messagePurpose(agentDid: string): string {
  return `oacp-a2a/message to ${agentDid}`;
}

export function cancelPurpose(agentDid: string): string {
  return `oacp-a2a/cancel at ${agentDid}`;
}

/** The exact bytes a message signature covers. */
export function messageSigningPayload(message: Message): string {
  const normal = Message.toJSON(message) as Record<string, unknown>;
  const metadata = { ...((normal.metadata as Record<string, unknown> | undefined) ?? {}) };
  const entry = metadata[OACP_A2A_EXTENSION];
  if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
    const { signature: _signature, ...rest } = entry as Record<string, unknown>;
    if (Object.keys(rest).length === 0) delete metadata[OACP_A2A_EXTENSION];
    else metadata[OACP_A2A_EXTENSION] = rest;
  }
  const { metadata: _metadata, ...withoutMetadata } = normal;
  return canonicalize(
    Object.keys(metadata).length === 0 ? withoutMetadata : { ...withoutMetadata, metadata },
  );
}

export interface SignMessageOptions {
  /** The did:key of the agent the message is for (from its verified card). */
  readonly to: string;
  /** Ask for result artifacts encrypted to this did:key. */
  readonly encryptTo?: string;
  readonly now?: () => number;
}

/** Returns the message with OACP's signed entry in its metadata (any earlier entry is replaced). */
export function signMessage(message: Message, signer: Signer, options: SignMessageOptions): Message {
  const entry: Record<string, unknown> =
    options.encryptTo === undefined ? {} : { encryptTo: options.encryptTo };
  const unsigned: Message = {
    ...message,
    metadata: { ...(message.metadata ?? {}), [OACP_A2A_EXTENSION]: entry },
  };
  const signature: SignedRequest = signRequest(signer, {
    purpose: messagePurpose(options.to),
    payload: messageSigningPayload(unsigned),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return {
    ...unsigned,
    metadata: { ...(unsigned.metadata ?? {}), [OACP_A2A_EXTENSION]: { ...entry, signature } },
  };
}

export interface VerifyMessageOptions {
  /** The receiving agent's did:key. */
  readonly agentDid: string;
  readonly nonces: NonceStore;
  readonly now?: () => number;
  readonly maxSkewMs?: number;
}

/**
 * Checks a message's signature against the key its signer names (a did:key is
 * its own public key, so no registry is consulted here; the trust graph
 * decides afterwards whether that signer may send at all). Replay-protected.
 */
export function verifyMessageSignature(
  message: Message,
  signature: SignedRequest,
  options: VerifyMessageOptions,
): Promise<RequestVerdict> {
  return verifySignedRequest(signature, {
    publicKey: signature.signer,
    payload: messageSigningPayload(message),
    purpose: messagePurpose(options.agentDid),
    nonces: options.nonces,
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.maxSkewMs === undefined ? {} : { maxSkewMs: options.maxSkewMs }),
  });
}

/** Signs a cancel: the payload is the task id. */
export function signCancel(taskId: string, agentDid: string, signer: Signer): SignedRequest {
  return signRequest(signer, { purpose: cancelPurpose(agentDid), payload: taskId });
}

export function verifyCancelSignature(
  taskId: string,
  signature: unknown,
  signer: string,
  options: VerifyMessageOptions,
): Promise<RequestVerdict> {
  return verifySignedRequest(signature, {
    publicKey: signer,
    payload: taskId,
    purpose: cancelPurpose(options.agentDid),
    nonces: options.nonces,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}

/**
 * The HTTP header that proves who asks for a task (tasks/get, tasks/resubscribe, push
 * configs): a task created by a signed message is shown only to its sender. Those A2A
 * requests carry no metadata, so the proof rides in a header (a relaying cluster member
 * passes headers on): base64url of the JSON SignedRequest.
 */
export const TASK_SIGNATURE_HEADER = 'x-oacp-task-signature';

export function taskAccessPurpose(agentDid: string): string {
  return `oacp-a2a/task at ${agentDid}`;
}

/** The header value for reading task `taskId` at agent `agentDid`: sign afresh for each request (replay-protected). */
export function signTaskAccess(taskId: string, agentDid: string, signer: Signer): string {
  const signed = signRequest(signer, { purpose: taskAccessPurpose(agentDid), payload: taskId });
  return Buffer.from(JSON.stringify(signed)).toString('base64url');
}

/** Checks a TASK_SIGNATURE_HEADER value: signed by `signer` for this task at this agent, fresh, not replayed. */
export function verifyTaskAccess(
  taskId: string,
  header: string,
  signer: string,
  options: VerifyMessageOptions,
): Promise<RequestVerdict> {
  let signed: unknown;
  try {
    signed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    return Promise.resolve({ ok: false, reason: `${TASK_SIGNATURE_HEADER} is not base64url JSON` });
  }
  return verifySignedRequest(signed, {
    publicKey: signer,
    payload: taskId,
    purpose: taskAccessPurpose(options.agentDid),
    nonces: options.nonces,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}
