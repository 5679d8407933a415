/**
 * Duplicate member names in one JSON object. JSON.parse keeps the last of
 * them; other parsers keep the first or refuse (RFC 8259 leaves it open, and
 * I-JSON, RFC 7493, forbids them). A signed or logged document holding
 * `"payload": A, "payload": B` therefore reads as A to one verifier and B to
 * another, so whatever vouches for such a document must refuse it instead.
 */

import { JsonStrings } from './json-strings.js';

const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * The first member name that appears twice in one object of `text`, or
 * undefined when there is none. `text` must already be valid JSON (JSON.parse
 * accepted it); names are compared after unescaping, so `"a"` and `"\u0061"`
 * are the same name. Linear and without recursion, whatever the nesting.
 */
export function duplicateJsonKey(text: string): string | undefined {
  // One entry per open container: the names seen so far in an object, undefined for an array.
  const open: (Set<string> | undefined)[] = [];
  const strings = new JsonStrings();
  let start = 0;
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at);
    const wasOpen = strings.open;
    if (strings.step(code)) {
      if (!wasOpen) start = at;
      else if (!strings.open) {
        const names = open[open.length - 1];
        // In valid JSON a string is a member name exactly when a colon follows it.
        if (names !== undefined && nextSignificant(text, at + 1) === COLON) {
          const raw = text.slice(start, at + 1);
          const name = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
          if (names.has(name)) return name;
          names.add(name);
        }
      }
      continue;
    }
    if (code === OPEN_OBJECT) open.push(new Set());
    else if (code === OPEN_ARRAY) open.push(undefined);
    else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) open.pop();
  }
  return undefined;
}

/** The refusal for a repeated member name, worded the same wherever it is found. */
export function duplicateKeyReason(what: string, name: string): string {
  const shown = name.length > 64 ? `${name.slice(0, 64)}…` : name;
  return `${what} repeats the member ${JSON.stringify(shown)} in one object (duplicate JSON keys read differently to different parsers)`;
}

/** The first character code at or after `from` that is not JSON whitespace. */
function nextSignificant(text: string, from: number): number | undefined {
  for (let at = from; at < text.length; at++) {
    const code = text.charCodeAt(at);
    if (code !== 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) return code;
  }
  return undefined;
}
