import { closeSync, constants, existsSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { PackageErrorCode } from './errors.js';
import { printable, unscopedName } from './spec.js';
import type { StoredPackage } from './store.js';

/**
 * The program a stored package's bin names, as npx would choose it: the bin
 * asked for, else the only one, else the one named like the package. Returns
 * the interpreter and arguments that run it (node for JavaScript entry points).
 */
export function binCommand(stored: StoredPackage, bin?: string): { command: string; script: string } {
  const dir = join(stored.root, 'node_modules', stored.name);
  let manifest: { bin?: unknown; name?: unknown };
  const manifestText = treeFileHead(join(dir, 'package.json'), MAX_MANIFEST_BYTES);
  if (manifestText === 'not a file') {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_BIN',
      `${stored.name}: the stored tree's package.json is not a regular file (its install scripts left a FIFO, socket or device there)`,
    );
  }
  try {
    manifest = JSON.parse(manifestText?.toString('utf8') ?? '');
  } catch {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_BIN',
      `${stored.name}: the stored tree has no package.json`,
    );
  }
  const bins: Record<string, string> =
    typeof manifest.bin === 'string'
      ? { [unscopedName(stored.name)]: manifest.bin }
      : typeof manifest.bin === 'object' && manifest.bin !== null
        ? Object.fromEntries(Object.entries(manifest.bin).filter(([, v]) => typeof v === 'string'))
        : {};
  const names = Object.keys(bins);
  const chosen =
    bin ?? (names.length === 1 ? names[0] : names.find((name) => name === unscopedName(stored.name)));
  const relative = chosen === undefined ? undefined : bins[chosen];
  if (relative === undefined) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_BIN',
      names.length === 0
        ? `${stored.name}@${stored.version} has no executable (no "bin" in its package.json): it is not a runnable server`
        : `${stored.name}@${stored.version} has executables ${names.join(', ')}; name one: npx -p ${stored.name} <bin>${bin === undefined ? '' : ` (not ${printable(bin)})`}`,
    );
  }
  const script = join(dir, relative);
  // The bin must stay inside the package: a "../../" entry is not the package's code.
  const real = existsSync(script) ? realpathSync.native(script) : undefined;
  if (real === undefined || !real.startsWith(`${realpathSync.native(stored.root)}/`)) {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_BIN',
      `${stored.name}@${stored.version}: bin "${printable(chosen ?? '')}" points outside the installed tree or to a missing file`,
    );
  }
  const bytes = treeFileHead(real, 128);
  if (bytes === undefined || bytes === 'not a file') {
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_BIN',
      `${stored.name}@${stored.version}: bin "${printable(chosen ?? '')}" is not a regular file (its install scripts left a FIFO, socket or device there)`,
    );
  }
  const head = bytes.toString('utf8');
  const nodeScript = !head.startsWith('#!') || /\bnode\b/.test(head.split('\n')[0] ?? '');
  return { command: nodeScript ? process.execPath : real, script: real };
}

/** More than any package.json npm would publish; the rest of a bigger one is not read. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * The first `maxBytes` of a file in a stored tree, which install scripts wrote: opened without
 * blocking and read only when it is a regular file, since a FIFO they left would hold a plain
 * read (and so `oacp mcp run`) forever. `undefined` when it cannot be opened.
 */
function treeFileHead(path: string, maxBytes: number): Buffer | 'not a file' | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return 'not a file';
    const wanted = Math.min(maxBytes, stat.size);
    const buffer = Buffer.alloc(wanted);
    let total = 0;
    for (let read = -1; read !== 0 && total < wanted; total += read) {
      read = readSync(fd, buffer, total, wanted - total, null);
    }
    return buffer.subarray(0, total);
  } finally {
    closeSync(fd);
  }
}
