/**
 * JSON from outside, parsed only within a nesting limit. Parsing itself copes
 * with any depth, but everything after it (canonicalization, digests, policy
 * contexts, JSON.stringify) recurses, so a value nested thousands of levels
 * deep would fail later, after work was done. The limit is checked on the
 * text (or on bytes as they stream in) first, linearly and without recursion;
 * a number that parses to Infinity is refused too (no digest or JSON answer
 * can carry it).
 */

import { JsonStrings } from './json-strings.js';

export type BoundedJson =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly reason: string };

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Tracks how deep JSON nests, one character code (or UTF-8 byte: every code
 * that matters here is ASCII, and no multi-byte sequence contains one) at a
 * time, skipping brackets inside strings; chunks may split anywhere.
 */
export class JsonNesting {
  private depth = 0;
  private readonly strings = new JsonStrings();
  /** The deepest nesting seen so far. */
  deepest = 0;

  step(code: number): void {
    if (this.strings.step(code)) return;
    if (code === OPEN_ARRAY || code === OPEN_OBJECT) {
      if (++this.depth > this.deepest) this.deepest = this.depth;
    } else if (code === CLOSE_ARRAY || code === CLOSE_OBJECT) this.depth--;
  }

  /** Feeds UTF-8 bytes; answers the deepest nesting so far. */
  feed(bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length; i++) this.step(bytes[i] ?? 0);
    return this.deepest;
  }
}

/** Deepest nesting of arrays and objects in JSON text. */
export function jsonDepth(text: string): number {
  const nesting = new JsonNesting();
  for (let i = 0; i < text.length; i++) nesting.step(text.charCodeAt(i));
  return nesting.deepest;
}

/** The refusal for JSON nested deeper than `maxDepth`, worded the same wherever it is found. */
export function tooDeep(what: string, maxDepth: number): string {
  return `${what} nests more than ${maxDepth} levels deep (the limit)`;
}

/**
 * `text` without a leading UTF-8 byte-order mark (U+FEFF). RFC 8259 §8.1: senders MUST NOT add
 * one, parsers MAY ignore one; JSON.parse rejects it. A message behind one is still the message
 * its sender wrote (a tools/call among them), so it is read, checked and recorded as any other.
 */
export function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Text that may hold a number no double can hold: 309 digits in a row, or a 3-digit exponent. */
const MAY_OVERFLOW = /\d{309}|[eE][+]?\d{3}/;

/**
 * JSON.parse that also reports the first number that parsed to ±Infinity (`1e400`): no digest,
 * receipt or re-serialised message can carry it (JSON.stringify would send `null`), so a caller
 * must refuse the text before acting on it. Throws SyntaxError as JSON.parse does. Text that
 * cannot hold such a number (the usual case) is parsed without a reviver.
 */
export function parseFiniteJson(text: string): { readonly value: unknown; readonly outOfRange?: string } {
  const value: unknown = JSON.parse(text);
  if (!MAY_OVERFLOW.test(text)) return { value };
  // The pattern also matches inside strings (`e` and three digits: a hex digest, base64), so the
  // parsed value is searched; a reviver did the same search at about four times the cost of the
  // parse (a 58 KB result listing file digests: 580 µs against 143 µs).
  const outOfRange = firstNonFiniteKey(value);
  return outOfRange === undefined ? { value } : { value, outOfRange };
}

/**
 * The member name (or array index, `""` for the root) of the first number in `value` that is not
 * finite, in document order (the order a reviver meets them); undefined when there is none.
 * Iterative: parsed JSON may nest deeper than the stack.
 */
function firstNonFiniteKey(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : '';
  const stack: { readonly holder: object; readonly keys: readonly string[]; next: number }[] = [];
  if (typeof value === 'object' && value !== null)
    stack.push({ holder: value, keys: Object.keys(value), next: 0 });
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as (typeof stack)[number];
    if (frame.next >= frame.keys.length) {
      stack.pop();
      continue;
    }
    const key = frame.keys[frame.next++] as string;
    const inner: unknown = (frame.holder as Record<string, unknown>)[key];
    if (typeof inner === 'number') {
      if (!Number.isFinite(inner)) return key;
    } else if (typeof inner === 'object' && inner !== null) {
      stack.push({ holder: inner, keys: Object.keys(inner), next: 0 });
    }
  }
  return undefined;
}

/** The refusal for a number too large for a double, worded the same wherever it is found. */
export function numberOutOfRange(what: string, key: string): string {
  const at = key === '' ? '' : ` (at "${key.slice(0, 64)}")`;
  return `${what} holds a number too large for a double${at}`;
}

/** Parses `text` as JSON nested at most `maxDepth` levels; `what` names it in the reason. */
export function parseBoundedJson(text: string, maxDepth: number, what: string): BoundedJson {
  if (jsonDepth(text) > maxDepth) return { ok: false, reason: tooDeep(what, maxDepth) };
  let parsed: ReturnType<typeof parseFiniteJson>;
  try {
    parsed = parseFiniteJson(text);
  } catch {
    // The parser's message quotes the text, which may hold a secret (a credential being stored).
    return { ok: false, reason: `${what} is not valid JSON` };
  }
  if (parsed.outOfRange !== undefined)
    return { ok: false, reason: numberOutOfRange(what, parsed.outOfRange) };
  return { ok: true, value: parsed.value };
}
