import { join } from 'node:path';
import { writeTokenFile } from './token-file.js';

/** Where a bridge's HTTP approval desk keeps its operator token: `<home>/approval-desks/` (0700). */
export function deskTokenDir(home: string): string {
  return join(home, 'approval-desks');
}

/**
 * Writes one bridge's approval-desk token to `<home>/approval-desks/<pid>-<random>.token`
 * (token-file.ts: 0600, created exclusively, a name no bridge in another PID namespace shares),
 * for the operator (`curl -H "Authorization: Bearer $(cat FILE)"`).
 */
export function writeDeskToken(
  home: string,
  token: string,
  pid = process.pid,
): { path: string; remove(): void } {
  return writeTokenFile(deskTokenDir(home), token, pid);
}
