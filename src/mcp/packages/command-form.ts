import { basename } from 'node:path';
import { OacpError } from '../../core/errors.js';
import type { PackageErrorCode } from './errors.js';
import { npmSchemeSpec, type PackageSpec, parsePackageSpec, printable } from './spec.js';

/** A wrapped command that names a registry package rather than a program on this host. */
export interface PackageCommand {
  readonly spec: PackageSpec;
  /** The package's bin to run when it has several (`npx -p pkg bin`); else the one named like the package. */
  readonly bin?: string;
  /** Arguments for the server itself. */
  readonly args: readonly string[];
  /** How the user wrote it, for messages. */
  readonly form: 'npm:' | 'npx' | 'npm exec';
}

/** npx/npm-exec flags that only steer npx itself (we never prompt and never use a cache). */
const QUIET_FLAGS = new Set(['-y', '--yes', '-q', '--quiet', '--no-install=false', '--silent']);

/**
 * Recognises `npm:<pkg> [args]`, `npx [-y|--yes] <pkg> [args]`, `npx -p <pkg> <bin> [args]`,
 * `npm exec [--yes] [--] <pkg> [args]` (also `npm x`) and `uvx <pkg>`; undefined for
 * any other command, which runs as given. `uvx` is refused with the remedy: Python
 * packages cannot be installed from this host's registries.
 */
export function packageCommand(argv: readonly string[]): PackageCommand | undefined {
  const [first, ...rest] = argv;
  const scheme = npmSchemeSpec(first);
  if (scheme !== undefined) return { spec: scheme, args: rest, form: 'npm:' };
  if (first === undefined) return undefined;
  const program = basename(first);
  if (program === 'npx') return npxForm(rest, 'npx');
  if (program === 'npm' && (rest[0] === 'exec' || rest[0] === 'x')) return npxForm(rest.slice(1), 'npm exec');
  if (program === 'uvx' || (program === 'uv' && rest[0] === 'tool' && rest[1] === 'run')) {
    const pkg = (program === 'uvx' ? rest : rest.slice(2)).find((arg) => !arg.startsWith('-')) ?? '';
    throw new OacpError<PackageErrorCode>(
      'PACKAGE_UVX_UNAVAILABLE',
      `"${program === 'uvx' ? 'uvx' : 'uv tool run'} ${printable(pkg)}": Python packages are not supported by oacp mcp yet (this host has no Python package index to install from). ` +
        `Install the server on the host yourself (e.g. "pipx install ${printable(pkg)}" or a virtualenv) and run its executable: oacp mcp run -- /path/to/venv/bin/${printable(pkg)}`,
    );
  }
  return undefined;
}

function npxForm(args: readonly string[], form: 'npx' | 'npm exec'): PackageCommand {
  let pkg: string | undefined;
  let at = 0;
  for (; at < args.length; at++) {
    const arg = args[at] ?? '';
    if (arg === '--') {
      at++;
      break;
    }
    if (QUIET_FLAGS.has(arg)) continue;
    if (arg === '-p' || arg === '--package') {
      pkg = args[++at];
      continue;
    }
    if (arg.startsWith('--package=')) {
      pkg = arg.slice('--package='.length);
      continue;
    }
    if (arg.startsWith('-')) {
      throw new OacpError<PackageErrorCode>(
        'PACKAGE_SPEC',
        `${form}: option "${printable(arg)}" is not supported in a wrapped command; write the server as npm:<package> [args]`,
      );
    }
    break;
  }
  const command = args[at];
  if (command === undefined) {
    throw new OacpError<PackageErrorCode>('PACKAGE_SPEC', `${form}: no package named`);
  }
  if (pkg === undefined) return { spec: parsePackageSpec(command), args: args.slice(at + 1), form };
  return { spec: parsePackageSpec(pkg), bin: command, args: args.slice(at + 1), form };
}
