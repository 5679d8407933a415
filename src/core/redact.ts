import { clipText } from './clip-text.js';

/**
 * Secrets never reach a log line or an answer: fields whose name says they
 * hold one are replaced whole, and anything shaped like an OACP API key, a
 * model provider's key (`sk-…`) or a bearer token is masked inside any
 * string, wherever it appears (an error message, a URL). The one redactor of
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

export function redactText(text: string): string {
  let out = text;
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

/** A deep copy with secrets removed; cycles and depth are bounded so a log call never throws. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? String(value) : value;
  }
  if (depth > 8) return '[DEPTH]';
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: redactText(value.message),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  if (Array.isArray(value)) return value.slice(0, 100).map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSecretField(key) ? REDACTED : redact(item, depth + 1);
  }
  return out;
}
