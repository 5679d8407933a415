import { tmpFullHint } from './tmp-full-hint.js';

/** A permission a server seems to lack, with the flag and the manifest line that grant it. */
export interface PermissionHint {
  readonly permission: string;
  readonly flag: string;
  readonly manifest: string;
}

const PATH = /(\/[^\s'"`,;:)]+)/;
const ENV_NAME = /\b([A-Z][A-Z0-9_]*_(?:KEY|TOKEN|SECRET|URL|ID|PATH|DIR|HOST|PASSWORD|API))\b/;

/**
 * Reads a failed server's last stderr lines for the usual signs of a missing
 * grant (a path refused or absent, a read-only file system, a host that does
 * not resolve, a variable not set) and names what would grant it. A guess
 * from text: phrased as "it may need", never applied by itself.
 */
export function permissionHints(lines: readonly string[]): PermissionHint[] {
  const hints = new Map<string, PermissionHint>();
  const add = (hint: PermissionHint) => hints.set(hint.flag, hint);
  for (const line of lines) {
    const path = PATH.exec(line)?.[1];
    if (path !== undefined && /EROFS|read-only file system/i.test(line)) {
      add({
        permission: `write ${path}`,
        flag: `--allow-files ${path}:rw`,
        manifest: `capabilities.file_write: ["${path}"]`,
      });
    } else if (
      path !== undefined &&
      // "cannot access": @modelcontextprotocol/server-filesystem given a directory outside its grants.
      /EACCES|EPERM|permission denied|ENOENT|no such file|cannot access|not accessible/i.test(line)
    ) {
      add({
        permission: `read ${path}`,
        flag: `--allow-files ${path}`,
        manifest: `capabilities.file_read: ["${path}"]`,
      });
    }
    const host = /(?:ENOTFOUND|EAI_AGAIN|getaddrinfo \w+)\s+([A-Za-z0-9.-]+\.[A-Za-z]{2,})/.exec(line)?.[1];
    if (host !== undefined) {
      add({
        permission: `network ${host}`,
        flag: `--allow-network ${host}`,
        manifest: `capabilities.network.allowlist: ["${host}"]`,
      });
    }
    // A native addon npm installed without its build step (the store runs no install scripts by default).
    if (
      /Could not locate the bindings file|No native build was found|\.node'?\s*$|build\/Release\/[^\s'"]+\.node/.test(
        line,
      )
    ) {
      add({
        permission: 'its install scripts (a native module that npm builds at install)',
        // The scripts' sandbox refuses limits it cannot enforce; a regular user on cgroup v1 cannot enforce these.
        flag: 'oacp mcp add --allow-scripts npm:<package> (a regular user on a cgroup v1 host also needs --allow-unenforced memory,pids,cpu,disk_io)',
        manifest: 'none: an install-time choice, not a sandbox grant',
      });
    }
    const env = ENV_NAME.exec(line)?.[1];
    if (env !== undefined && /not set|missing|required|undefined|must be|provide|environment/i.test(line)) {
      add({
        permission: `environment variable ${env}`,
        flag: `--allow-env ${env}`,
        manifest: `capabilities.env: ["${env}"]`,
      });
    }
  }
  const tmpFull = tmpFullHint(lines);
  if (tmpFull !== undefined) add(tmpFull);
  return [...hints.values()];
}

/** "it may need: --allow-env X (manifest: capabilities.env: ["X"]); …", or '' when nothing matched. */
export function describeHints(hints: readonly PermissionHint[]): string {
  if (hints.length === 0) return '';
  return `; it may need ${hints.map((hint) => `${hint.permission}: ${hint.flag} (manifest: ${hint.manifest})`).join('; ')}`;
}
