import { sortedKeys } from './jcs.js';

/**
 * A deep-frozen copy of `value` whose object members are in JCS order (UTF-16 code units), so
 * that `JSON.stringify(copy)` is exactly `canonicalize(value)` (core/jcs.ts): V8's native writer
 * then does the work, with one string as its only garbage, where the JS writer leaves ~7 KB of
 * partial strings per receipt statement. Undefined for any value where the two would differ or
 * the copy could not be faithful, which the caller then canonicalizes the ordinary way:
 * - a member named like an array index (`"9"`, `"10"`): JavaScript enumerates those first, in
 *   numeric order, whatever order they were added in;
 * - a member named `__proto__`: assigning it sets a prototype instead of adding a member;
 * - anything JSON.stringify writes differently from JCS or JCS refuses (undefined in an array, a
 *   function, a bigint, NaN or an infinity, a `toJSON`), and anything nested deeper than
 *   MAX_DEPTH, cycles included.
 * Members whose value is undefined are left out, as both writers do.
 */
export function jcsOrderedCopy<T>(value: T): T | undefined {
  const copy = ordered(value, 0);
  return copy === REFUSED ? undefined : (copy as T);
}

/** Deeper than any statement OACP builds; past it the generic writer takes over. */
const MAX_DEPTH = 64;

const REFUSED: unique symbol = Symbol('jcs.refused');

/** Canonical numeric strings JavaScript treats as array indexes (0 to 2^32 - 2), which it enumerates first. */
const INDEX_LIKE = /^(?:0|[1-9][0-9]{0,9})$/;

function ordered(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : REFUSED;
    case 'object':
      if (value === null) return null;
      if (depth >= MAX_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return REFUSED;
      return Array.isArray(value) ? orderedArray(value, depth) : orderedRecord(value, depth);
    default:
      return REFUSED;
  }
}

function orderedArray(value: readonly unknown[], depth: number): unknown {
  const copy: unknown[] = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const item = ordered(value[i], depth + 1);
    // An undefined item (or a hole) is `null` to JSON.stringify and refused by JCS.
    if (item === REFUSED || item === undefined) return REFUSED;
    copy[i] = item;
  }
  return Object.freeze(copy);
}

function orderedRecord(value: object, depth: number): unknown {
  const record = value as Record<string, unknown>;
  const keys = sortedKeys(record);
  const copy: Record<string, unknown> = {};
  for (const key of keys) {
    if (key === '__proto__' || INDEX_LIKE.test(key)) return REFUSED;
    const member = record[key];
    if (member === undefined) continue;
    const inner = ordered(member, depth + 1);
    if (inner === REFUSED) return REFUSED;
    copy[key] = inner;
  }
  return Object.freeze(copy);
}
