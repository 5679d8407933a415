import { implicitReadPaths } from '../../mcp/implicit-paths.js';
import { type ServerIdentity, serverIdentity } from '../../mcp/server-identity.js';

/** What a command line runs, for receipts and for the paths it may read without a grant. */
export interface Workload {
  readonly identity: ServerIdentity;
  readonly codeFiles: readonly { readonly path: string; readonly sha256: string }[];
  readonly implicitReadPaths: readonly string[];
}

export function describeWorkload(
  name: string,
  command: string,
  args: readonly string[],
  protectedPaths: readonly string[] = [],
): Workload {
  const identity = serverIdentity(name, command, args);
  const codeFiles = [identity.executable, identity.script, identity.package]
    .filter((file) => file !== undefined)
    .map((file) => ({ path: file.path, sha256: file.sha256 }));
  return { identity, codeFiles, implicitReadPaths: implicitReadPaths(identity, protectedPaths) };
}
