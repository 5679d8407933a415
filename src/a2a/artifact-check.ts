import type { Artifact } from '@a2a-js/sdk';
import { z } from 'zod';
import type { TrustLevel } from '../attest/trust-level.js';
import { verifyReceiptEnvelope } from '../attest/verify-receipt.js';
import { jcsDigest } from '../core/jcs.js';
import { type Check, OfflineVerifier } from '../verify/offline-verifier.js';
import { decryptWithSeed } from './artifact-encryption.js';
import {
  type A2aTaskInput,
  type A2aTaskOutput,
  ArtifactExtensionSchema,
  type AttestationParams,
  OACP_A2A_EXTENSION,
} from './extension.js';
import { textOfParts } from './parts.js';

/** What a caller concluded about one result artifact. */
export interface ArtifactCheck {
  readonly artifactId: string;
  readonly name: string;
  /** The output, decrypted when it was encrypted and the key was at hand. */
  readonly output?: A2aTaskOutput;
  /** Text parts, for artifacts that carry no OACP output. */
  readonly text: string;
  readonly receiptIndex?: number;
  readonly checks: readonly Check[];
  readonly trustLevel: TrustLevel;
}

export interface ArtifactCheckContext {
  readonly params: AttestationParams;
  /** The input the agent should have been given (the message as sent, and our did). */
  readonly input: A2aTaskInput;
  /** To decrypt artifacts encrypted to us. */
  readonly seed?: Uint8Array;
  /** Fetches receipt N's inclusion proof (the card's receipts URL); undefined skips the log check (it then fails). */
  readonly fetchProof?: (index: number) => Promise<string>;
}

const OutputSchema = z.strictObject({ value: z.unknown(), logs: z.array(z.string()) });
const ExecutionPredicate = z.object({
  agent: z.object({ did: z.string().optional() }).optional(),
  manifestDigest: z.string(),
  tier: z.string(),
  inputsDigest: z.string(),
  outputsDigest: z.string(),
  exit: z.object({ code: z.number().nullable() }),
});

/**
 * The execution proof, checked the way `oacp verify` does and then bound to
 * this exchange: the receipt verifies under the card's Airlock keys and names
 * the card's agent; it is in the card's log (inclusion proof under the card's
 * log key); it ran the manifest and tier the card declares; its inputsDigest
 * is the input we sent and its outputsDigest the output we got.
 */
export async function checkArtifact(
  artifact: Artifact,
  context: ArtifactCheckContext,
): Promise<ArtifactCheck> {
  const checks: Check[] = [];
  const base = { artifactId: artifact.artifactId, name: artifact.name, text: textOfParts(artifact.parts) };
  const untrusted = (extra: Partial<ArtifactCheck> = {}): ArtifactCheck => ({
    ...base,
    ...extra,
    checks,
    trustLevel: 'Untrusted',
  });
  const ext = ArtifactExtensionSchema.safeParse(artifact.metadata?.[OACP_A2A_EXTENSION]);
  if (!ext.success) {
    checks.push({ name: 'artifact-receipt', ok: false, detail: 'the artifact carries no OACP receipt' });
    return untrusted();
  }
  const { receipt, encrypted } = ext.data;
  const at = { receiptIndex: receipt.index };

  const output = await readOutput(artifact, encrypted?.recipient, context.seed, checks);
  if (output === undefined) return untrusted(at);

  const params = context.params;
  const airlockKeys = params.airlockKeys.map((key) => new Uint8Array(Buffer.from(key, 'base64')));
  let logChecks: readonly Check[];
  let trustLevel: TrustLevel;
  if (context.fetchProof === undefined) {
    const verified = verifyReceiptEnvelope(receipt.envelope, { airlockKeys, expectedAgentDid: params.did });
    logChecks = [...verified.checks, { name: 'log-inclusion', ok: false, detail: 'not checked' }];
    trustLevel = verified.trustLevel;
  } else {
    let proof: string;
    try {
      proof = await context.fetchProof(receipt.index);
    } catch (error) {
      checks.push({
        name: 'log-inclusion',
        ok: false,
        detail: `cannot fetch receipt ${receipt.index}'s proof: ${error instanceof Error ? error.message : String(error)}`,
      });
      return untrusted({ ...at, output });
    }
    const verified = new OfflineVerifier({
      airlockKeys,
      logKey: params.log.verifierKey,
      expectedAgentDid: params.did,
    }).verify(JSON.stringify(receipt.envelope), proof);
    logChecks = verified.checks;
    trustLevel = verified.trustLevel;
  }
  checks.push(...logChecks);
  checks.push(...bindingChecks(receipt.envelope.payload, params, context.input, output));
  const ok = checks.every((check) => check.ok);
  return { ...base, ...at, output, checks, trustLevel: ok ? trustLevel : 'Untrusted' };
}

async function readOutput(
  artifact: Artifact,
  recipient: string | undefined,
  seed: Uint8Array | undefined,
  checks: Check[],
): Promise<A2aTaskOutput | undefined> {
  let candidate: unknown;
  if (recipient !== undefined) {
    const jwe = artifact.parts[0]?.content;
    if (artifact.parts.length !== 1 || jwe?.$case !== 'text') {
      checks.push({
        name: 'artifact-output',
        ok: false,
        detail: 'an encrypted artifact must be one JWE text part',
      });
      return undefined;
    }
    if (seed === undefined) {
      checks.push({
        name: 'artifact-output',
        ok: false,
        detail: `the artifact is encrypted to ${recipient} and no key was given to decrypt it`,
      });
      return undefined;
    }
    try {
      candidate = JSON.parse(Buffer.from(await decryptWithSeed(jwe.value, seed)).toString('utf8'));
    } catch (error) {
      checks.push({
        name: 'artifact-output',
        ok: false,
        detail: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
    checks.push({
      name: 'artifact-decryption',
      ok: true,
      detail: `decrypted (JWE ECDH-ES+A256GCM to ${recipient})`,
    });
  } else {
    const data = artifact.parts[0]?.content;
    candidate = data?.$case === 'data' ? data.value : undefined;
  }
  const parsed = OutputSchema.safeParse(candidate);
  if (!parsed.success) {
    checks.push({
      name: 'artifact-output',
      ok: false,
      detail: 'the first part is not the run output {value, logs}',
    });
    return undefined;
  }
  return { value: parsed.data.value, logs: parsed.data.logs };
}

function bindingChecks(
  payload: string,
  params: AttestationParams,
  input: A2aTaskInput,
  output: A2aTaskOutput,
): Check[] {
  let predicate: z.infer<typeof ExecutionPredicate>;
  try {
    const statement = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as {
      predicateType?: unknown;
      predicate?: unknown;
    };
    if (statement.predicateType !== 'https://oacp.dev/attestation/execution/v1') {
      return [{ name: 'execution-binding', ok: false, detail: 'the receipt is not an execution receipt' }];
    }
    predicate = ExecutionPredicate.parse(statement.predicate);
  } catch {
    return [
      { name: 'execution-binding', ok: false, detail: 'the receipt payload is not an execution statement' },
    ];
  }
  const expectOutputs = jcsDigest({ value: output.value ?? null, logs: output.logs });
  const expectInputs = jcsDigest(input);
  return [
    same('receipt-agent', predicate.agent?.did, params.did, "the run is attributed to the card's agent"),
    same(
      'receipt-manifest',
      predicate.manifestDigest,
      params.manifestDigest,
      'ran under the manifest the card declares',
    ),
    same('receipt-tier', predicate.tier, params.tier, 'ran in the tier the card declares'),
    same('receipt-inputs', predicate.inputsDigest, expectInputs, 'ran on the message we sent'),
    same('receipt-outputs', predicate.outputsDigest, expectOutputs, 'produced exactly this artifact'),
    {
      name: 'receipt-exit',
      ok: predicate.exit.code === 0,
      detail:
        predicate.exit.code === 0 ? 'the run exited 0' : `the run exited ${String(predicate.exit.code)}`,
    },
  ];
}

function same(name: string, actual: string | undefined, expected: string, meaning: string): Check {
  return actual === expected
    ? { name, ok: true, detail: meaning }
    : { name, ok: false, detail: `mismatch: receipt has ${actual ?? '(none)'}, expected ${expected}` };
}
