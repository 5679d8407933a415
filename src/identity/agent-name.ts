import { z } from 'zod';
import { OacpError } from '../core/errors.js';
import type { IdentityErrorCode } from './errors.js';

/**
 * Agent names become file names, so the pattern is anchored and narrow: lower
 * case (case-insensitive file systems would merge "Bot" and "bot"), no dots or
 * slashes (no path tricks), 1 to 64 characters.
 */
export const AgentNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 of a-z 0-9 _ -, starting with a letter or digit');

export function parseAgentName(name: string): string {
  const parsed = AgentNameSchema.safeParse(name);
  if (!parsed.success) {
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_AGENT_NAME_INVALID',
      `invalid agent name ${JSON.stringify(name.slice(0, 80))}: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}
