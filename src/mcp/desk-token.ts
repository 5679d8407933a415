import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';

/** Where a bridge's HTTP approval desk keeps its operator token: `<home>/approval-desks/` (0700). */
export function deskTokenDir(home: string): string {
  return join(home, 'approval-desks');
}

/**
 * Writes one bridge's approval-desk token to `<home>/approval-desks/<pid>-<random>.token`
 * (0600, created exclusively), for the operator (`curl -H "Authorization: Bearer $(cat FILE)"`).
 * The name carries 128 random bits beside the pid: two bridges sharing a home from different PID
 * namespaces (containers, sandboxes) have the same pid, and a name from the pid alone let the second
 * overwrite the first's token. A name already taken is refused, never replaced. The directory must
 * be a real directory of this user, closed to others (a planted symlink or an open one is refused).
 * The token is never printed: logs name the file only, and that name is how the operator finds
 * this bridge's token. `remove` deletes it when the bridge ends.
 */
export function writeDeskToken(
  home: string,
  token: string,
  pid = process.pid,
): { path: string; remove(): void } {
  const dir = deskTokenDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    throw new OacpError<McpErrorCode>(
      'MCP_CONFIG',
      `${dir} must be a directory of this user closed to others (0700) to hold the approval desk's token: remove it and start again`,
    );
  }
  const path = join(dir, `${pid}-${randomBytes(16).toString('hex')}.token`);
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { path, remove: () => rmSync(path, { force: true }) };
}
