import { clipText } from '../core/clip-text.js';

/** Half a surrogate pair with no other half: a string that is not Unicode text. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Longest path a refusal names (UTF-16 units). */
const MAX_PATH = 200;

/**
 * Where in `value` a string (a member name or a value) holds a lone UTF-16 surrogate, as a path
 * from `root` (`arguments.files[2].path`), or undefined when there is none. JSON's `\ud800`
 * escapes let a client send one; Cedar takes only Unicode text and fails to parse the request,
 * so the policy could not judge it: the caller denies with this path rather than Cedar's error.
 * Iterative.
 */
export function loneSurrogatePath(value: unknown, root: string): string | undefined {
  const stack: Array<{ readonly value: unknown; readonly path: string }> = [{ value, path: root }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; path: string };
    if (typeof item.value === 'string') {
      if (LONE_SURROGATE.test(item.value)) return clipText(item.path, MAX_PATH);
      continue;
    }
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (Array.isArray(item.value)) {
      for (const [index, child] of item.value.entries())
        stack.push({ value: child, path: `${item.path}[${index}]` });
      continue;
    }
    for (const [key, child] of Object.entries(item.value)) {
      const path = `${item.path}${memberPath(key)}`;
      if (LONE_SURROGATE.test(key)) return clipText(`${path} (its name)`, MAX_PATH);
      stack.push({ value: child, path });
    }
  }
  return undefined;
}

/** The reason a request naming a lone surrogate at `path` is denied, worded the same everywhere. */
export function loneSurrogateReason(path: string): string {
  return `${path} holds a lone UTF-16 surrogate (half of a character, as a \\ud800-\\udfff escape with no other half): it is not Unicode text, no policy can read it, so the call is denied`;
}

function memberPath(key: string): string {
  // JSON.stringify writes a lone surrogate as its \u escape, so the path stays printable text.
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
