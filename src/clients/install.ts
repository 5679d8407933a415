import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { OacpError } from '../core/errors.js';
import { type OacpLauncher, wrapEntry } from './entry.js';
import type { ClientErrorCode } from './errors.js';
import { parseClientFile, renderClientFile } from './file-format.js';
import type { ClientFormat } from './locations.js';
import { readClientFile } from './read-client-file.js';

export interface InstallResult {
  readonly path: string;
  readonly wrapped: readonly string[];
  readonly already: readonly string[];
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
  /** The file as it is (or, with dryRun, would be) after the change. */
  readonly content: string;
  readonly backup?: string;
}

/** The untouched original, kept beside the file until `--uninstall` puts it back. */
export function backupPath(path: string): string {
  return `${path}.oacp-backup`;
}

/**
 * `oacp mcp install --client X`: rewrites every server in the client's file
 * to start through `oacp mcp run`, keeping everything else. The first
 * install copies the original to `<file>.oacp-backup` (never overwritten
 * later); the new file replaces the old one atomically.
 */
export function installClient(
  path: string,
  format: ClientFormat,
  launcher: OacpLauncher,
  options: { readonly dryRun: boolean },
): InstallResult {
  const original = existsSync(path) ? readClientFile(path) : '';
  const document = parseClientFile(original, format, path);
  const wrapped: string[] = [];
  const already: string[] = [];
  const skipped: { name: string; reason: string }[] = [];
  const servers = Object.fromEntries(
    Object.entries(document.servers).map(([name, entry]) => {
      const outcome = wrapEntry(name, entry, launcher);
      if (outcome.kind === 'wrapped') wrapped.push(name);
      else if (outcome.kind === 'already') already.push(name);
      else skipped.push({ name, reason: outcome.reason });
      return [name, outcome.entry];
    }),
  );
  const content = renderClientFile({ root: document.root, servers }, format);
  if (options.dryRun || wrapped.length === 0) return { path, wrapped, already, skipped, content };
  const backup = backupPath(path);
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(backup)) {
    if (existsSync(path)) copyFileSync(path, backup);
    else writeFileSync(backup, '', { mode: 0o600 });
  }
  const temporary = `${path}.oacp-${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600 });
  renameSync(temporary, path);
  return { path, wrapped, already, skipped, content, backup };
}

/** `--uninstall`: puts the backed-up original back (an empty backup means there was no file). */
export function uninstallClient(path: string, options: { readonly dryRun: boolean }): { restored: string } {
  const backup = backupPath(path);
  if (!existsSync(backup)) {
    throw new OacpError<ClientErrorCode>(
      'CLIENT_NO_BACKUP',
      `no backup ${backup}: oacp mcp install did not change ${path}, or the backup was removed`,
    );
  }
  if (options.dryRun) return { restored: readClientFile(backup) };
  const original = readClientFile(backup);
  if (original === '') rmSync(path, { force: true });
  else copyFileSync(backup, path);
  rmSync(backup);
  return { restored: original };
}
