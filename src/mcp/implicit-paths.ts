import { homedir } from 'node:os';
import { dirname, resolve, sep } from 'node:path';
import { findPackageJson, type ServerIdentity } from './server-identity.js';

/**
 * Host paths a server needs just to run, granted read-only without flags:
 * its executable, the runtime's install prefix when the executable is a
 * language runtime living in a bin/ directory (node, python), and the package
 * holding its script, widened to the outermost node_modules so hoisted
 * dependencies resolve. Nothing here is writable.
 */
export function implicitReadPaths(identity: ServerIdentity): string[] {
  const paths = new Set<string>();
  const executable = identity.executable?.path;
  if (executable !== undefined) {
    paths.add(executable);
    const bin = dirname(executable);
    if (bin.endsWith(`${sep}bin`)) {
      const prefix = dirname(bin);
      // /usr/bin/node's prefix is /usr: far too broad; only a dedicated install prefix is granted.
      if (!['/usr', '/usr/local', '/', ''].includes(prefix)) paths.add(prefix);
    }
  }
  const script = identity.script?.path;
  if (script !== undefined) {
    const pkg = findPackageJson(script);
    const pkgDir = pkg === undefined ? undefined : dirname(pkg);
    // The script's package, unless that would expose a whole system or home directory: then the script alone.
    paths.add(pkgDir === undefined || tooBroad(pkgDir) ? script : pkgDir);
    const root = outermostNodeModules(script);
    if (root !== undefined && !tooBroad(root)) paths.add(root);
  }
  return [...paths].map((path) => resolve(path));
}

function outermostNodeModules(file: string): string | undefined {
  const marker = `${sep}node_modules${sep}`;
  const at = file.indexOf(marker);
  return at === -1 ? undefined : file.slice(0, at + marker.length - 1);
}

/** Directories never granted implicitly: they hold far more than one program's code. */
function tooBroad(dir: string): boolean {
  const normalized = resolve(dir);
  const broad = [
    '/',
    '/usr',
    '/usr/local',
    '/usr/lib',
    '/etc',
    '/home',
    '/root',
    '/tmp',
    '/var',
    '/opt',
    '/srv',
    homedir(),
  ];
  return broad.includes(normalized) || normalized.split(sep).length <= 2;
}
