import { canonicalize } from '../core/jcs.js';

/** A value Cedar's JSON entity/context format accepts, built only from plain data. */
export type CedarValue = string | number | boolean | CedarValue[] | { [key: string]: CedarValue };

/** Deeper than this, a value is handed to the policy as its JSON text instead. */
export const MAX_CEDAR_DEPTH = 32;

// Cedar reads these keys as entity references and extension calls; an argument
// spelled that way must not be able to smuggle an entity into the request.
const CEDAR_ESCAPES = new Set(['__entity', '__extn', '__expr']);

/**
 * Converts one JSON argument to the value a policy sees (docs/policy.md,
 * "How arguments look to a policy"): strings, booleans and safe integers keep
 * their type, arrays become sets, objects become records; null, fractions,
 * integers beyond ±(2^53-1), objects using Cedar's escape keys and anything
 * nested deeper than MAX_CEDAR_DEPTH become their JSON text.
 */
export function toCedarValue(value: unknown, depth = 0): CedarValue {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : jsonText(value);
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return String(value);
  if (depth >= MAX_CEDAR_DEPTH) return jsonText(value);
  if (Array.isArray(value)) return value.map((item) => toCedarValue(item, depth + 1));
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).filter((key) => record[key] !== undefined);
  if (keys.some((key) => CEDAR_ESCAPES.has(key))) return jsonText(value);
  const out: { [key: string]: CedarValue } = {};
  for (const key of keys) out[key] = toCedarValue(record[key], depth + 1);
  return out;
}

/** The record a tools/call's arguments become under `context.arguments`. */
export function toCedarArguments(args: Readonly<Record<string, unknown>> | undefined): {
  [key: string]: CedarValue;
} {
  const converted = toCedarValue(args ?? {});
  return typeof converted === 'object' && !Array.isArray(converted) ? converted : { value: converted };
}

function jsonText(value: unknown): string {
  try {
    return canonicalize(value);
  } catch {
    return String(value);
  }
}
