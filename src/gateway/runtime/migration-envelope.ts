import { z } from 'zod';
import { decryptWithSeed, encryptToDid } from '../../a2a/artifact-encryption.js';
import { clusterError } from '../../cluster/errors.js';
import type { Member } from '../../cluster/member.js';
import { verifyEd25519 } from '../../core/ed25519.js';
import { canonicalize } from '../../core/jcs.js';
import { publicKeyFromDidKey } from '../../identity/did-key.js';
import { type AgentState, AgentStateSchema, MAX_STATE_BYTES, stateDigest } from './agent-state.js';
import type { TransferKey } from './transfer-key.js';

/** How long an envelope is accepted after it was made, and how long its state waits for the placement. */
export const ENVELOPE_TTL_MS = 30_000;

/** One agent's state on its way from `source` to `target`: sealed to the target, signed by the source. */
export const MigrationEnvelopeSchema = z.strictObject({
  agent: z.string().min(1).max(200),
  source: z.string().min(1).max(200),
  target: z.string().min(1).max(200),
  stateDigest: z.string().regex(/^[0-9a-f]{64}$/),
  issuedAt: z.number().int().nonnegative(),
  /** Compact JWE, ECDH-ES + A256GCM to the target's transfer key (src/a2a/artifact-encryption.ts). */
  sealed: z
    .string()
    .min(1)
    .max(MAX_STATE_BYTES * 2),
  /** Ed25519 by the source's transfer key over the JCS of every other field, base64url. */
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});
export type MigrationEnvelope = z.infer<typeof MigrationEnvelopeSchema>;

export async function sealEnvelope(
  facts: { agent: string; source: string; target: Member; state: AgentState; issuedAt: number },
  key: TransferKey,
): Promise<MigrationEnvelope> {
  const bytes = Buffer.from(JSON.stringify(facts.state), 'utf8');
  if (bytes.length > MAX_STATE_BYTES) {
    throw clusterError(
      'CLUSTER_MIGRATION_REFUSED',
      `agent ${facts.agent} keeps ${bytes.length} bytes of state; at most ${MAX_STATE_BYTES} move`,
    );
  }
  if (facts.target.transferKey === undefined) {
    throw clusterError('CLUSTER_MIGRATION_REFUSED', `node ${facts.target.id} publishes no transfer key`);
  }
  const unsigned = {
    agent: facts.agent,
    source: facts.source,
    target: facts.target.id,
    stateDigest: stateDigest(facts.state),
    issuedAt: facts.issuedAt,
    sealed: await encryptToDid(bytes, facts.target.transferKey),
  };
  const signature = Buffer.from(key.signer.sign(Buffer.from(canonicalize(unsigned)))).toString('base64url');
  return { ...unsigned, signature };
}

/**
 * Checks an envelope as its target: meant for this node, fresh, signed by
 * the transfer key the source publishes as a live member, and its state
 * decrypts to the digest it names. Any failure refuses it with the reason.
 */
export async function openEnvelope(
  input: unknown,
  self: { id: string; key: TransferKey; members: readonly Member[]; now: number },
): Promise<{ envelope: MigrationEnvelope; state: AgentState }> {
  const parsed = MigrationEnvelopeSchema.safeParse(input);
  const invalid = (why: string) => clusterError('CLUSTER_MIGRATION_INVALID', `migration refused: ${why}`);
  if (!parsed.success) throw invalid(`malformed envelope (${parsed.error.issues[0]?.path.join('.') ?? ''})`);
  const envelope = parsed.data;
  if (envelope.target !== self.id) throw invalid(`addressed to ${envelope.target}, this is ${self.id}`);
  const age = self.now - envelope.issuedAt;
  if (age > ENVELOPE_TTL_MS || age < -ENVELOPE_TTL_MS) throw invalid('the envelope is stale');
  const source = self.members.find((m) => m.id === envelope.source);
  if (source?.transferKey === undefined) throw invalid(`${envelope.source} is not a live member`);
  const { signature, ...unsigned } = envelope;
  const signed = verifyEd25519(
    publicKeyFromDidKey(source.transferKey),
    Buffer.from(canonicalize(unsigned)),
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) throw invalid(`the signature is not ${envelope.source}'s`);
  let state: AgentState;
  try {
    const plaintext = await decryptWithSeed(envelope.sealed, self.key.seed());
    state = AgentStateSchema.parse(JSON.parse(Buffer.from(plaintext).toString('utf8')));
  } catch {
    throw invalid('the state does not decrypt with this node transfer key');
  }
  if (stateDigest(state) !== envelope.stateDigest) throw invalid('the state does not match its digest');
  return { envelope, state };
}
