import { z } from 'zod';
import { OacpError } from '../../core/errors.js';
import type { AgentErrorCode } from './errors.js';

/** Attributes declared for an agent; Cedar policies read them as `principal.<name>`. */
export type AgentAttributes = Readonly<Record<string, string | number | boolean>>;

const AttributesSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, {
      error: 'attribute names are identifiers of 1-64 characters',
    }),
    z.union([z.string().max(256), z.number().refine(Number.isFinite), z.boolean()], {
      error: 'an attribute value is a string (up to 256 characters), a finite number or a boolean',
    }),
  )
  .refine((record) => Object.keys(record).length <= 32, { error: 'at most 32 attributes' });

export function parseAttributes(value: unknown): AgentAttributes {
  const parsed = AttributesSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `attributes.${issue.path.map(String).join('.')}` : 'attributes';
    throw new OacpError<AgentErrorCode>(
      'AGENT_ATTRIBUTES_INVALID',
      `${where}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}
