import { describeError } from '../core/errors.js';

/** Where a command writes; injected so commands can be tested without a subprocess. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Writes to stdout/stderr; a reader that went away (`oacp ... | head`) is not an error worth a stack. */
export function processOutput(): Output {
  const ignoreBrokenPipe = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  };
  process.stdout.on('error', ignoreBrokenPipe);
  process.stderr.on('error', ignoreBrokenPipe);
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
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
