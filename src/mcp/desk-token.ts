import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where a bridge's HTTP approval desk keeps its operator token: `<home>/approval-desks/` (0700). */
export function deskTokenDir(home: string): string {
  return join(home, 'approval-desks');
}

/**
 * Writes one bridge's approval-desk token to `<home>/approval-desks/<pid>.token`
 * (0600, created exclusively: a file already there is another run's, or planted,
 * and is refused), for the operator (`curl -H "Authorization: Bearer $(cat FILE)"`).
 * The token is never printed: logs name the file only. `remove` deletes it when the bridge ends.
 */
export function writeDeskToken(
  home: string,
  token: string,
  pid = process.pid,
): { path: string; remove(): void } {
  const dir = deskTokenDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${pid}.token`);
  rmSync(path, { force: true });
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { path, remove: () => rmSync(path, { force: true }) };
}
