import type { Manifest } from '../../capability/manifest.js';
import type { Signer } from '../../core/ed25519.js';

/** Attribute values declared for an agent; policies read them as `principal.<name>`. */
export type AgentAttributes = Readonly<Record<string, string | number | boolean>>;

/** The agent a call is made as, with what the checks need to judge it. */
export interface CallerAgent {
  /** The agent's did:key (its id everywhere: store, receipts, policies). */
  readonly did: string;
  readonly name: string;
  readonly manifest: Manifest;
  readonly attributes: AgentAttributes;
}

/**
 * How the call reached the gateway. `sandbox` (the agent's own code) and
 * `signed-request` (the agent's key signed it) are made by the agent, so with
 * attestation level standard their receipts are co-signed with the agent key;
 * `api-key` calls act for the agent without its key and are Airlock-signed only;
 * `unauthenticated` calls were refused by authentication (nothing proved who made
 * them: recorded, never co-signed).
 */
export type CallChannel = 'sandbox' | 'signed-request' | 'api-key' | 'unauthenticated';

export interface ApiKeyRef {
  readonly id: string;
  /** The key's own call rate, when it has one. */
  readonly callsPerMinute?: number;
}

/** The agent's key for co-signing; undefined when the gateway does not co-sign this agent's receipts. */
export type AgentSignerLookup = (agentDid: string) => Promise<Signer | undefined>;
