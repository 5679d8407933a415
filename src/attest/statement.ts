import { z } from 'zod';

/** in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md). */
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** The DSSE payloadType for in-toto statements; anything else is not a receipt. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export const Sha256HexSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be a sha256 digest: 64 lowercase hex digits');

/**
 * in-toto ResourceDescriptor. Lenient as the spec asks (consumers ignore fields
 * they do not know), but a subject must carry a digest, and an OACP subject a sha256.
 */
export const ResourceDescriptorSchema = z
  .object({
    name: z.string().optional(),
    uri: z.string().optional(),
    digest: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export const SubjectSchema = ResourceDescriptorSchema.refine(
  (subject) => subject.digest !== undefined && Object.keys(subject.digest).length > 0,
  'a subject must have at least one digest',
);
export type Subject = z.infer<typeof SubjectSchema>;

/** The Statement layer, generic over predicates; OACP predicates are checked strictly elsewhere. */
export const StatementSchema = z
  .object({
    _type: z.literal(IN_TOTO_STATEMENT_TYPE),
    subject: z.array(SubjectSchema).min(1, 'a statement needs at least one subject'),
    predicateType: z.string().min(1),
    predicate: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
export type Statement = z.infer<typeof StatementSchema>;

/** One subject of an OACP statement: a name and the sha256 of what it names. */
export function sha256Subject(name: string, sha256: string): Subject {
  return { name, digest: { sha256 } };
}
