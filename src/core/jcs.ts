import { sha256Hex } from './digest.js';
import { OacpError } from './errors.js';

export type JcsErrorCode = 'JCS_UNSUPPORTED_VALUE';

/**
 * RFC 8785 JSON Canonicalization Scheme. Numbers and strings use ECMAScript
 * serialization (what JSON.stringify already does); object members are sorted by
 * UTF-16 code units, which is JavaScript's default string order. Values JSON
 * cannot hold (undefined, functions, NaN, Infinity, bigint) are refused rather
 * than silently dropped, because a digest over a lossy form would attest
 * something other than what ran.
 */
export function canonicalize(value: unknown): string {
  return write(value, '$');
}

/** sha256 (hex) over the JCS form: how OACP digests JSON arguments and results. */
export function jcsDigest(value: unknown): string {
  return sha256Hex(canonicalize(value));
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw unsupported(path, String(value));
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item, i) => write(item, `${path}[${i}]`)).join(',')}]`;
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        return write((value as { toJSON: () => unknown }).toJSON(), path);
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${write(record[key], `${path}.${key}`)}`).join(',')}}`;
    }
    default:
      throw unsupported(path, typeof value);
  }
}

function unsupported(path: string, what: string): OacpError<JcsErrorCode> {
  return new OacpError('JCS_UNSUPPORTED_VALUE', `cannot canonicalize ${path}: ${what} has no JSON form`);
}
