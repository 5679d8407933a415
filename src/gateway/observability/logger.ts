import { clipText } from '../../core/clip-text.js';
import { redact } from '../../core/redact.js';
import type { SecretValues } from '../../core/secret-values.js';
import { terminalSafeJson } from '../../core/terminal-text.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogSink = (line: string) => void;

/**
 * Longest string (a field's value, a field's name, `msg`) a log line keeps, in
 * UTF-16 units. A guest's output, a tool's error or an upstream body could
 * otherwise make one line megabytes long; past this the rest is dropped and
 * `…[N chars cut]` says how much.
 */
export const LOG_STRING_MAX = 4096;

function capString(text: string): string {
  if (text.length <= LOG_STRING_MAX) return text;
  const kept = clipText(text, LOG_STRING_MAX);
  return `${kept}…[${text.length - kept.length} chars cut]`;
}

/**
 * Every string in a redacted copy (plain objects and arrays, depth already
 * bounded) masked of the known secret values, then cut to LOG_STRING_MAX
 * (masked first, so a cut never leaves half a value that no longer matches).
 */
function capStrings(value: unknown, secrets: SecretValues | undefined): unknown {
  if (typeof value === 'string') return capString(secrets === undefined ? value : secrets.mask(value));
  if (Array.isArray(value)) return value.map((item) => capStrings(item, secrets));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value))
    out[capStrings(key, secrets) as string] = capStrings(item, secrets);
  return out;
}

/**
 * Structured logs: one JSON object per line with `time`, `level`, `msg` and
 * the fields given, secrets redacted (see redact.ts), strings cut at LOG_STRING_MAX. Children carry fixed
 * fields (a request id, a trace id). Writing never throws into the caller.
 */
export class Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly minimum: LogLevel = 'info',
    private readonly fields: Readonly<Record<string, unknown>> = {},
    private readonly now: () => Date = () => new Date(),
    private readonly secrets?: SecretValues,
  ) {}

  child(fields: Readonly<Record<string, unknown>>): Logger {
    return new Logger(this.sink, this.minimum, { ...this.fields, ...fields }, this.now, this.secrets);
  }

  /** This logger, its lines also masked of `secrets`' values (the ones its gateway hands out). */
  withSecrets(secrets: SecretValues): Logger {
    return new Logger(this.sink, this.minimum, this.fields, this.now, secrets);
  }

  debug(msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.write('debug', msg, fields);
  }

  info(msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.write('info', msg, fields);
  }

  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.write('warn', msg, fields);
  }

  error(msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.write('error', msg, fields);
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.minimum];
  }

  private write(level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>): void {
    if (!this.enabled(level)) return;
    try {
      const record = capStrings(redact({ ...this.fields, ...fields }), this.secrets) as Record<
        string,
        unknown
      >;
      // Lines go to stderr, often a terminal: a guest's `console.log` or a server's stderr must not carry a raw 8-bit CSI.
      this.sink(
        terminalSafeJson({
          time: this.now().toISOString(),
          level,
          msg: capStrings(redact(msg), this.secrets),
          ...record,
        }) ?? '',
      );
    } catch {
      // A log line that cannot be written must not fail the request it describes.
    }
  }
}

/** Discards everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return new Logger(() => undefined, 'error');
}

/** JSON lines on stderr, which keeps stdout free for command output. */
export function stderrLogger(level: LogLevel = 'info'): Logger {
  return new Logger((line) => process.stderr.write(`${line}\n`), level);
}
