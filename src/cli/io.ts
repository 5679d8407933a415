import { describeError } from '../core/errors.js';
import { escapeControl } from '../core/terminal-text.js';

/** Where a command writes; injected so commands can be tested without a subprocess. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Writes to stdout/stderr; a reader that went away (`oacp ... | head`) is not an error worth a stack.
 * Every diagnostic line is printed with control characters escaped: errors and notes quote
 * paths, commands, server and tool names that a workload, a catalog or a manifest chose, and a
 * terminal must never run what they carry (OSC 52, title, cursor moves). stdout is data and
 * stays byte-exact in a pipe or file; on a terminal it is escaped too, whatever the command
 * prints there (an agent's result as JSON keeps U+009B, an 8-bit CSI, raw: JSON escapes only
 * U+0000-U+001F). escapeControl is idempotent, so text a command escaped already is unchanged.
 */
export function processOutput(): Output {
  const ignoreBrokenPipe = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  };
  process.stdout.on('error', ignoreBrokenPipe);
  process.stderr.on('error', ignoreBrokenPipe);
  const terminal = process.stdout.isTTY === true;
  return {
    out: (line) => process.stdout.write(`${terminal ? escapeControl(line) : line}\n`),
    err: (line) => process.stderr.write(`${escapeControl(line)}\n`),
  };
}

/** A user-facing failure: printed as one line, no stack, with this exit code. */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliExit';
    this.exitCode = exitCode;
  }
}

export function failureLine(error: unknown): string {
  return `oacp: ${describeError(error)}`;
}
