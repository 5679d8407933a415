import { redact } from '../../core/redact.js';
import { terminalSafeJson } from '../../core/terminal-text.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogSink = (line: string) => void;

/**
 * Structured logs: one JSON object per line with `time`, `level`, `msg` and
 * the fields given, secrets redacted (see redact.ts). Children carry fixed
 * fields (a request id, a trace id). Writing never throws into the caller.
 */
export class Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly minimum: LogLevel = 'info',
    private readonly fields: Readonly<Record<string, unknown>> = {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  child(fields: Readonly<Record<string, unknown>>): Logger {
    return new Logger(this.sink, this.minimum, { ...this.fields, ...fields }, this.now);
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
      const record = redact({ ...this.fields, ...fields }) as Record<string, unknown>;
      // Lines go to stderr, often a terminal: a guest's `console.log` or a server's stderr must not carry a raw 8-bit CSI.
      this.sink(
        terminalSafeJson({ time: this.now().toISOString(), level, msg: redact(msg), ...record }) ?? '',
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
