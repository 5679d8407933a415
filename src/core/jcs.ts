import { createHash, hash as oneShotHash } from 'node:crypto';
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
  const quick = shallowForm(value);
  if (quick !== undefined) return quick;
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
  const quick = shallowForm(value);
  // One-shot (crypto.hash, as log/hash.ts): about half the cost of a Hash object for the short
  // forms of arguments and results, digested a few times per tool call.
  if (quick !== undefined) return oneShotHash('sha256', quick, 'hex');
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

/** How deep the quick form goes before it leaves the value to the iterative walk. */
const QUICK_DEPTH = 64;

/**
 * The JCS form of a value nested at most QUICK_DEPTH levels with nothing in
 * it JSON cannot hold (every receipt statement and almost every argument),
 * built by plain recursion, which is several times faster than the walk.
 * Undefined for anything else (deeper, a cycle, a value to refuse, a form
 * too long for one string): the walk then writes it, or names what it refuses.
 */
function shallowForm(value: unknown): string | undefined {
  try {
    return quickForm(value, 0);
  } catch {
    return undefined;
  }
}

function quickForm(input: unknown, depth: number): string | undefined {
  let value = input;
  for (let hops = 0; hops < 8 && typeof value === 'object' && value !== null; hops++) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (Array.isArray(value) || typeof toJSON !== 'function') break;
    value = (toJSON as () => unknown).call(value);
  }
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return quoted(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'object': {
      if (depth >= QUICK_DEPTH) return undefined;
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const part = quickForm(value[i], depth + 1);
          if (part === undefined) return undefined;
          out += i === 0 ? part : `,${part}`;
        }
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      let out = '{';
      let written = 0;
      const keys = sortedKeys(record);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const member = record[key];
        if (member === undefined) continue;
        const part = quickForm(member, depth + 1);
        if (part === undefined) return undefined;
        out += `${written++ === 0 ? '' : ','}${quoted(key)}:${part}`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

/** Printable ASCII but `"` and backslash: the characters JSON.stringify writes as they are. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * JSON.stringify(text), without the call into the serializer for the names, digests and
 * identifiers a receipt is made of: they need no escape, so their form is the text in quotes (a
 * receipt statement canonicalized in about a quarter less time, measured). Anything else is
 * escaped by JSON.stringify.
 */
function quoted(text: string): string {
  return PLAIN_STRING.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** Above this many members an object's names go to Array.prototype.sort. */
const INSERTION_SORT_MAX = 16;

/**
 * An object's own enumerable member names in UTF-16 code-unit order (what `sort()` gives
 * strings). The few names of a receipt's objects are sorted in place by insertion: sort()
 * copies its array into a work area first, a tenth of what a tool call allocated.
 */
/** A record's own member names in JCS order (UTF-16 code units); shared with jcs-ordered.ts. */
export function sortedKeys(record: object): string[] {
  const keys = Object.keys(record);
  if (keys.length > INSERTION_SORT_MAX) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
  return keys;
}

/** One open array or object: what is left to write of it. */
interface Frame {
  readonly container: object;
  /** Object member names, sorted, or undefined for an array. */
  readonly keys: readonly string[] | undefined;
  /** The next index (array) or key position (object) to look at. */
  next: number;
  /** Members written so far (an object skips members whose value is undefined). */
  written: number;
}

/**
 * Emits the JCS form of `root` in parts. Iterative over an explicit stack;
 * the path of a value (for errors only) is rebuilt from the stack when one
 * is refused, so the walk allocates nothing per value beyond its text.
 */
function walk(root: unknown, emit: (part: string) => void): void {
  const stack: Frame[] = [];
  const open = new Set<object>();
  let value: unknown = root;
  for (;;) {
    value = unwrapped(value, stack);
    if (typeof value === 'object' && value !== null) {
      if (open.has(value)) throw unsupported(pathOf(stack), 'a cycle');
      open.add(value);
      if (Array.isArray(value)) {
        emit('[');
        stack.push({ container: value, keys: undefined, next: 0, written: 0 });
      } else {
        emit('{');
        stack.push({ container: value, keys: sortedKeys(value), next: 0, written: 0 });
      }
    } else {
      emit(scalar(value, stack));
    }
    // The next value to write, closing every container that is done.
    let frame = stack.at(-1);
    for (;;) {
      if (frame === undefined) return;
      if (takeNext(frame, emit)) break;
      emit(frame.keys === undefined ? ']' : '}');
      open.delete(frame.container);
      stack.pop();
      frame = stack.at(-1);
    }
    value = current(frame);
  }
}

/** Moves `frame` to its next member and writes what precedes it (comma, key); false when none is left. */
function takeNext(frame: Frame, emit: (part: string) => void): boolean {
  if (frame.keys === undefined) {
    if (frame.next >= (frame.container as unknown[]).length) return false;
    if (frame.next > 0) emit(',');
    frame.next++;
    return true;
  }
  const record = frame.container as Record<string, unknown>;
  while (frame.next < frame.keys.length) {
    const key = frame.keys[frame.next++] as string;
    // Members whose value is undefined are left out, as JSON.stringify does.
    if (record[key] === undefined) continue;
    emit(frame.written++ > 0 ? `,${JSON.stringify(key)}:` : `${JSON.stringify(key)}:`);
    return true;
  }
  return false;
}

/** The member `frame` was just moved to. */
function current(frame: Frame): unknown {
  const at = frame.next - 1;
  return frame.keys === undefined
    ? (frame.container as unknown[])[at]
    : (frame.container as Record<string, unknown>)[frame.keys[at] as string];
}

/** A value after its toJSON (a Date, say; toJSON may return another such object: a bounded number of hops). */
function unwrapped(input: unknown, stack: readonly Frame[]): unknown {
  let value = input;
  for (let hops = 0; hops < 8 && typeof value === 'object' && value !== null; hops++) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (Array.isArray(value) || typeof toJSON !== 'function') return value;
    try {
      value = (toJSON as () => unknown).call(value);
    } catch (error) {
      throw unsupported(
        pathOf(stack),
        `its toJSON failed (${error instanceof Error ? error.message : String(error)})`,
      );
    }
  }
  return value;
}

/** A scalar's JCS text. */
function scalar(value: unknown, stack: readonly Frame[]): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw unsupported(pathOf(stack), String(value));
      return JSON.stringify(value);
    default:
      throw unsupported(pathOf(stack), typeof value);
  }
}

/** `$.a[2].b`: where the walk is, rebuilt from the open containers. */
function pathOf(stack: readonly Frame[]): string {
  let path = '$';
  for (const frame of stack) {
    const at = frame.next - 1;
    path += frame.keys === undefined ? `[${at}]` : `.${frame.keys[at]}`;
    if (path.length > 200) return path;
  }
  return path;
}

function unsupported(path: string, what: string): OacpError<JcsErrorCode> {
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  return new OacpError('JCS_UNSUPPORTED_VALUE', `cannot canonicalize ${shown}: ${what} has no JSON form`);
}
