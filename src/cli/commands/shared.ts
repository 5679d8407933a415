import type { Command } from 'commander';
import type { z } from 'zod';
import { inputFileFailure, readInputText } from '../../core/input-file.js';
import { KeyStore } from '../../identity/keystore.js';
import { CliExit } from '../io.js';
import type { CliContext } from '../program.js';

export function openKeyStore(context: CliContext, command: Command): KeyStore {
  return KeyStore.open(context.home(command), context.env, { secrets: context.secrets });
}

/** Commander accumulator for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A flag's value read through its schema, or exit 2 naming the flag, the value and the reason. */
export function parseFlag<T>(name: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const shown = Array.isArray(value) ? value.join(',') : String(value);
    throw new CliExit(`${name} ${shown}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 2);
  }
  return parsed.data;
}

/** Reads a file the user named, turning "no such file" into a one-line error that says which input it was. */
export function readInputFile(path: string, what: string): string {
  try {
    return readInputText(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : inputFileFailure(error);
    throw new CliExit(`cannot read ${what} ${path}: ${why}`);
  }
}

export function parseIndex(value: string, what: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new CliExit(`${what} must be a non-negative integer, got ${JSON.stringify(value)}`, 2);
  }
  return Number(value);
}

/** How `oacp run` and `oacp mcp run` end a `--allow-files` naming nothing on this host. */
export const MISSING_GRANT_REFUSED = 'refused (create it first, or leave the grant out)';

/**
 * The user's own `--allow-files` naming a path that does not exist stops the
 * run (exit 2, one line per flag): a confined sandbox binds its grants when it
 * starts, so the workload would run with that grant missing for its whole life.
 */
export function refuseMissingFileGrants(lines: readonly string[]): void {
  if (lines.length > 0) throw new CliExit(lines.join('\n').replace(/^oacp: /, ''), 2);
}
