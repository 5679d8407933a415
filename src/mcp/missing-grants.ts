import { lstatSync } from 'node:fs';
import { parsePathGlob } from '../capability/path-glob.js';
import { FileGrant } from './options.js';

/**
 * The user's own file grants (`--allow-files PATH`, or `allow_files` of an
 * oacp.yaml server) that name nothing on this host: a confined sandbox skips a
 * missing path (docs/hardened-tier.md), so a mistyped grant would start the
 * workload without it and without a word. One warning line per such grant,
 * naming `field` (the flag, or the file and the field). A grant the workload's
 * manifest or a catalog entry adds is not the user's and is not checked (an
 * optional path may well be absent); a value the grant's parser refuses is
 * left to it, which names it; a wildcard other than a trailing `/**` may match
 * nothing by design and is not checked.
 */
export function missingFileGrants(
  values: readonly string[],
  field = '--allow-files',
  outcome = 'nothing is granted',
): string[] {
  const lines: string[] = [];
  for (const value of values) {
    const grant = FileGrant.safeParse(value);
    if (!grant.success) continue;
    const glob = parsePathGlob(grant.data.path);
    if (glob === undefined) continue;
    const last = glob.segments.at(-1);
    const literal = glob.segments.slice(0, last?.kind === 'globstar' ? -1 : undefined);
    if (literal.some((segment) => segment.kind !== 'literal')) continue;
    const path = `/${literal.map((segment) => (segment.kind === 'literal' ? segment.text : '')).join('/')}`;
    if (!exists(path)) {
      lines.push(`oacp: ${field} ${grant.data.path}: no such file or directory; ${outcome}`);
    }
  }
  return lines;
}

/** Missing when a component is absent or not a directory; a path that cannot be checked is left to the sandbox. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

/** The same for the `allow_files` of every server of an oacp.yaml, each named by file and field. */
export function missingConfigFileGrants(
  file: string,
  servers: readonly { readonly name: string; readonly allow_files: readonly string[] }[],
): string[] {
  return servers.flatMap((server) =>
    missingFileGrants(server.allow_files, `${file}: mcp.servers.${server.name}.allow_files`),
  );
}
