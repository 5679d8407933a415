import { OacpError } from '../../core/errors.js';

/**
 * Values cross between host and guest only as JSON text, never as object
 * references. These checks run on the host side of every crossing, before
 * the text is parsed: a size cap, a nesting cap (so a JSON bomb cannot blow
 * the host's or the guest's stack), and, for text coming out of the guest,
 * a refusal of `__proto__`, `constructor` and `prototype` keys, so a guest
 * value merged into a host object can never reach `Object.prototype`.
 */
export interface JsonLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Nesting depth of JSON text, skipping brackets inside strings. Linear, no recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return deepest;
}

function checkShape(text: string, limits: JsonLimits, what: string): string | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limits.maxBytes)
    return `${what} is ${bytes} bytes, more than the ${limits.maxBytes}-byte limit`;
  const depth = jsonDepth(text);
  if (depth > limits.maxDepth)
    return `${what} nests ${depth} levels deep, more than the ${limits.maxDepth}-level limit`;
  return undefined;
}

/** Host value -> JSON text for the guest. `undefined` becomes `null` (JSON has no undefined). */
export function encodeForGuest(value: unknown, limits: JsonLimits, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new OacpError('WASM_BAD_INPUT', `${what} is not JSON-serializable: ${reason}`);
  }
  if (text === undefined) throw new OacpError('WASM_BAD_INPUT', `${what} is not JSON-serializable`);
  const problem = checkShape(text, limits, what);
  if (problem !== undefined) throw new OacpError('WASM_BAD_INPUT', problem);
  return text;
}

/** Guest JSON text -> host value, refusing prototype-polluting keys anywhere in it. */
export function decodeFromGuest(text: string, limits: JsonLimits, what: string): unknown {
  const problem = checkShape(text, limits, what);
  if (problem !== undefined) throw new OacpError('WASM_BAD_VALUE', problem);
  let forbidden: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, inner: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) forbidden ??= key;
      return inner;
    });
  } catch {
    throw new OacpError('WASM_BAD_VALUE', `${what} is not valid JSON`);
  }
  if (forbidden !== undefined) {
    throw new OacpError(
      'WASM_BAD_VALUE',
      `${what} contains the key "${forbidden}", which is refused at the sandbox boundary (prototype pollution)`,
    );
  }
  return value;
}
