import { randomUUID } from 'node:crypto';
import type { Artifact, Part } from '@a2a-js/sdk';
import { canonicalize } from '../core/jcs.js';
import type { LoggedReceipt } from './agent.js';
import { encryptToDid, JWE_ALG, JWE_ENC } from './artifact-encryption.js';
import { type A2aTaskOutput, type ArtifactExtension, OACP_A2A_EXTENSION } from './extension.js';
import { dataPart, textPart } from './parts.js';

export interface ReceiptPlace {
  readonly origin: string;
  /** Receipt URL template with `{index}`. */
  readonly urlTemplate: string;
}

export const RESULT_MEDIA_TYPE = 'application/json';
export const JWE_MEDIA_TYPE = 'application/jose';

/**
 * The result artifact: first part is the data `{ value, logs }` whose JCS
 * digest is the receipt's outputsDigest (the binding a caller checks); a text
 * copy of a string value follows for plain A2A clients. Encrypted, the whole
 * output is one JWE part instead. The receipt travels in the metadata either way.
 */
export async function resultArtifact(
  agentName: string,
  output: A2aTaskOutput,
  receipt: LoggedReceipt,
  place: ReceiptPlace,
  encryptTo?: string,
): Promise<Artifact> {
  const data = { value: output.value ?? null, logs: [...output.logs] };
  const extension: ArtifactExtension = {
    receipt: {
      index: receipt.index,
      origin: place.origin,
      url: place.urlTemplate.replace('{index}', String(receipt.index)),
      envelope: receipt.envelope,
    },
    ...(encryptTo === undefined
      ? {}
      : { encrypted: { recipient: encryptTo, alg: JWE_ALG, enc: JWE_ENC } as const }),
  };
  let parts: Part[];
  if (encryptTo !== undefined) {
    const jwe = await encryptToDid(Buffer.from(canonicalize(data), 'utf8'), encryptTo);
    parts = [textPart(jwe, JWE_MEDIA_TYPE)];
  } else {
    parts = [dataPart(data, RESULT_MEDIA_TYPE)];
    if (typeof data.value === 'string') parts.push(textPart(data.value));
  }
  return {
    artifactId: randomUUID(),
    name: 'result',
    description: `output of agent ${agentName}, with the execution receipt of the run that produced it`,
    parts,
    metadata: { [OACP_A2A_EXTENSION]: extension },
    extensions: [OACP_A2A_EXTENSION],
  };
}
