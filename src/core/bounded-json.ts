/**
 * JSON text from outside, parsed only within a nesting limit. Parsing itself
 * copes with any depth, but everything after it (canonicalization, digests,
 * policy contexts, JSON.stringify) recurses, so a value nested thousands of
 * levels deep would fail later, after work was done. The limit is checked on
 * the text first, in one linear pass without recursion; a number that parses
 * to Infinity is refused too (no digest or JSON answer can carry it).
 */

export type BoundedJson =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly reason: string };

/** Deepest nesting of arrays and objects in JSON text, skipping brackets inside strings. */
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

/** Parses `text` as JSON nested at most `maxDepth` levels; `what` names it in the reason. */
export function parseBoundedJson(text: string, maxDepth: number, what: string): BoundedJson {
  const depth = jsonDepth(text);
  if (depth > maxDepth) {
    return { ok: false, reason: `${what} nests ${depth} levels deep, more than the ${maxDepth}-level limit` };
  }
  let outOfRange: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, inner: unknown) => {
      // 1e400 parses to Infinity, which no digest or JSON answer can carry: refused here, not later.
      if (typeof inner === 'number' && !Number.isFinite(inner)) outOfRange ??= key;
      return inner;
    });
  } catch {
    // The parser's message quotes the text, which may hold a secret (a credential being stored).
    return { ok: false, reason: `${what} is not valid JSON` };
  }
  if (outOfRange !== undefined) {
    const at = outOfRange === '' ? '' : ` (at "${outOfRange.slice(0, 64)}")`;
    return { ok: false, reason: `${what} holds a number too large for a double${at}` };
  }
  return { ok: true, value };
}
