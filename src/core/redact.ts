import { clipText } from './clip-text.js';

/**
 * Secrets never reach a log line or an answer: fields whose name says they
 * hold one are replaced whole, and anything shaped like an OACP API key, a
 * model provider's key (`sk-…`) or a bearer token is masked inside any
 * string, wherever it appears (an error message, a URL), and so are a URL's
 * user information and the values of its secret-named query parameters
 * (`?token=`, `api_key=`, `sig=`, `X-Amz-Signature=`, …). The one redactor of
 * every OACP listener (gateway, MCP bridge, A2A, Airlock egress proxy).
 */

const SECRET_KEY =
  /^(authorization|cookie|set-cookie|password|passphrase|secret|token|api[-_]?key|private[-_]?key|seed|master[-_]?key|signature|credential|credentials|x-api-key|oacp-signed-request)$/i;
const SECRET_SUFFIX = /(secret|token|password|passphrase|privatekey|private_key|apikey|api_key)$/i;

const SECRET_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  [/oacp_[A-Za-z0-9_-]{6,}/g, 'oacp_[REDACTED]'],
  [/\bsk-[A-Za-z0-9_-]{16,}/g, 'sk-[REDACTED]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [REDACTED]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED PRIVATE KEY]'],
];

export const REDACTED = '[REDACTED]';

export function isSecretField(name: string): boolean {
  return SECRET_KEY.test(name) || SECRET_SUFFIX.test(name);
}

/** A URL's user information (`scheme://user:password@`, `https://token@`): the part before the host. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
/** One query (or fragment) parameter: `?name=value`, `&name=value`, `;name=value`, `#name=value`. */
const URL_PARAMETER = /([?&;#])([^=&;#\s"'<>]{1,64})=([^&;#\s"'<>]*)/g;
/** Query parameter names that carry a credential besides isSecretField's (signed URLs, OAuth). */
const URL_SECRET_PARAMETER =
  /^(key|sig|sign|auth|code|pass|pwd|x-amz-signature|x-amz-credential|x-goog-signature|x-goog-credential)$/i;

function redactUrls(text: string): string {
  return text.replace(URL_USERINFO, `$1${REDACTED}@`).replace(URL_PARAMETER, (whole, lead, name, value) => {
    if (value === '') return whole;
    let decoded = name as string;
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      // A malformed escape is judged as written.
    }
    return isSecretField(decoded) || URL_SECRET_PARAMETER.test(decoded)
      ? `${lead}${name}=${REDACTED}`
      : whole;
  });
}

/**
 * What every pattern above needs somewhere in the text: a URL's `://`, a parameter's lead
 * character, or a key's or scheme's fixed prefix. Text with none of them (most decision reasons,
 * names and error messages) can match no pattern, and is returned as it is without running the six
 * replacements (about 4 µs of a bridged tool call, whose reason is redacted for its intent and its
 * receipt). A new pattern must add what it needs here.
 */
const MAY_HOLD_SECRET = /:\/\/|[?&;#]|oacp_|sk-|bearer|basic|-----BEGIN /i;

export function redactText(text: string): string {
  return MAY_HOLD_SECRET.test(text) ? redactEveryPattern(text) : text;
}

/** Every replacement, whatever the text holds: redactText without its shortcut (its tests compare the two). */
export function redactEveryPattern(text: string): string {
  let out = redactUrls(text);
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** The longest message an error answer of an OACP listener carries (it may quote the caller). */
export const ANSWER_MAX = 1000;

/** How much of a caller's string (a path, a name, an error) an answer or log line echoes. */
export const ECHO_MAX = 200;

/**
 * Text a caller chose, or an error that may quote it, as an answer or log
 * line may echo it: redacted first (so a cut never leaves half a key that no
 * longer looks like one), then cut at `max` UTF-16 units with `…`.
 */
export function echoText(text: string, max = ECHO_MAX): string {
  const clean = redactText(text);
  return clean.length > max ? `${clipText(clean, max)}…` : clean;
}

/** `error.message` (or the thrown value) as `echoText`. */
export function echoError(error: unknown, max = ECHO_MAX): string {
  return echoText(error instanceof Error ? error.message : String(error), max);
}

/**
 * How much of a logged value `redact` keeps: levels below the top, keys of one
 * object, items of one array, and values in all. A request body or an
 * upstream answer handed to a log call could otherwise make one line as large
 * as itself (LOG_STRING_MAX bounds each string, not how many there are). What
 * is left out is said where it was: an object gets the key `…` with
 * `[N keys left out]`, an array a last item `[N items left out]`, a level
 * past the depth `[deeper levels left out]`; once `values` are kept, the
 * rest of every array and object is left out the same way.
 */
export const REDACT_LIMITS = { depth: 8, keys: 100, items: 100, values: 2000 } as const;

/** A deep copy with secrets removed, bounded by REDACT_LIMITS (cycles too), so a log call never throws or floods. */
export function redact(value: unknown): unknown {
  return redactWithin(value, 0, { left: REDACT_LIMITS.values });
}

function redactWithin(value: unknown, depth: number, budget: { left: number }): unknown {
  budget.left -= 1;
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? String(value) : value;
  }
  if (depth >= REDACT_LIMITS.depth) return '[deeper levels left out]';
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: redactText(value.message),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  if (Array.isArray(value)) {
    const kept: unknown[] = [];
    for (const item of value.slice(0, REDACT_LIMITS.items)) {
      if (budget.left <= 0) break;
      kept.push(redactWithin(item, depth + 1, budget));
    }
    const over = value.length - kept.length;
    return over > 0 ? [...kept, `[${over} items left out]`] : kept;
  }
  const keys = Object.keys(value);
  const out: Record<string, unknown> = {};
  let kept = 0;
  for (const key of keys.slice(0, REDACT_LIMITS.keys)) {
    if (budget.left <= 0) break;
    const item = (value as Record<string, unknown>)[key];
    out[key] = isSecretField(key) ? REDACTED : redactWithin(item, depth + 1, budget);
    kept += 1;
  }
  if (keys.length > kept) out['…'] = `[${keys.length - kept} keys left out]`;
  return out;
}
