import { createHash } from 'node:crypto';
import { OacpError } from './errors.js';

export type JcsErrorCode = 'JCS_UNSUPPORTED_VALUE' | 'JCS_TOO_LARGE';

/**
 * RFC 8785 JSON Canonicalization Scheme. Numbers and strings use ECMAScript
 * serialization (what JSON.stringify already does); object members are sorted by
 * UTF-16 code units, which is JavaScript's default string order. Values JSON
 * cannot hold (undefined, functions, NaN, Infinity, bigint, cycles) are refused
 * rather than silently dropped, because a digest over a lossy form would attest
 * something other than what ran.
 *
 * The walk is iterative (an explicit stack, never recursion), so any value that
 * JSON.parse accepted, however deep, canonicalizes: a receipt can never become
 * impossible after the call ran because its arguments nest 100,000 levels.
 */
export function canonicalize(value: unknown): string {
  const parts: string[] = [];
  walk(value, (part) => parts.push(part));
  try {
    return parts.join('');
  } catch {
    throw new OacpError(
      'JCS_TOO_LARGE',
      'cannot canonicalize $: the canonical form exceeds the longest string',
    );
  }
}

/**
 * sha256 (hex) over the JCS form: how OACP digests JSON arguments and results.
 * The form is hashed as it is produced, so no value is too large to digest.
 */
export function jcsDigest(value: unknown): string {
  const hash = createHash('sha256');
  let buffered: string[] = [];
  let size = 0;
  walk(value, (part) => {
    buffered.push(part);
    size += part.length;
    if (size >= 1 << 16) {
      hash.update(buffered.join(''), 'utf8');
      buffered = [];
      size = 0;
    }
  });
  hash.update(buffered.join(''), 'utf8');
  return hash.digest('hex');
}

/** One open array or object: what is left to write of it. */
interface Frame {
  readonly container: object;
  readonly path: string;
  readonly items: readonly unknown[];
  /** Object member names (already sorted), or undefined for an array. */
  readonly keys: readonly string[] | undefined;
  next: number;
}

function walk(root: unknown, emit: (part: string) => void): void {
  const stack: Frame[] = [];
  const open = new Set<object>();
  let value: unknown = root;
  let path = '$';
  for (;;) {
    // Write one value: a scalar at once, a container by pushing a frame.
    const resolved = resolve(value, path);
    if (typeof resolved === 'string') emit(resolved);
    else {
      if (open.has(resolved.container)) throw unsupported(path, 'a cycle');
      open.add(resolved.container);
      emit(resolved.keys === undefined ? '[' : '{');
      stack.push(resolved);
    }
    // Find the next value to write, closing every container that is done.
    let frame = stack.at(-1);
    for (;;) {
      if (frame === undefined) return;
      if (frame.next < frame.items.length) break;
      emit(frame.keys === undefined ? ']' : '}');
      open.delete(frame.container);
      stack.pop();
      frame = stack.at(-1);
    }
    const i = frame.next++;
    if (i > 0) emit(',');
    if (frame.keys === undefined) {
      path = `${frame.path}[${i}]`;
    } else {
      const key = frame.keys[i] as string;
      emit(`${JSON.stringify(key)}:`);
      path = `${frame.path}.${key}`;
    }
    value = frame.items[i];
  }
}

/** A scalar's JCS text, or a frame for a container. */
function resolve(input: unknown, path: string): string | Frame {
  let value = input;
  // toJSON (a Date, say) may return another object with toJSON; a bounded number of hops.
  for (let hops = 0; hops < 8 && typeof value === 'object' && value !== null; hops++) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (Array.isArray(value) || typeof toJSON !== 'function') break;
    value = (toJSON as () => unknown).call(value);
  }
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
      if (Array.isArray(value)) return { container: value, path, items: value, keys: undefined, next: 0 };
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort();
      return { container: value, path, items: keys.map((key) => record[key]), keys, next: 0 };
    }
    default:
      throw unsupported(path, typeof value);
  }
}

function unsupported(path: string, what: string): OacpError<JcsErrorCode> {
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  return new OacpError('JCS_UNSUPPORTED_VALUE', `cannot canonicalize ${shown}: ${what} has no JSON form`);
}
