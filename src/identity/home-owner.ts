import { statSync } from 'node:fs';
import { OacpError } from '../core/errors.js';
import type { IdentityErrorCode } from './errors.js';

/**
 * Root does not work in another account's home: what it made there (intents, the log's files,
 * quota stores) would be root's, and the owner's next command refused. Chowning each new file
 * would have to reach every writer (SQLite's journals included); refusing is one check, here,
 * where the CLI and a program opening the home as a library (`OacpNode.open`, `KeyStore`) both go.
 * `named` is what the caller changes to fix it (`--home`, `OACP_HOME`); a library caller names
 * the path.
 */
export function refuseOthersHome(
  home: string,
  uid: number | undefined = process.getuid?.(),
  named?: string,
): void {
  if (uid !== 0) return;
  let owner: number;
  try {
    owner = statSync(home).uid;
  } catch {
    // Not there yet (init makes it root's) or unreadable: the command's own access reports it.
    return;
  }
  if (owner === 0) return;
  const lockout = `the OACP home of uid ${owner}; as root, files made there would lock its owner out`;
  throw new OacpError<IdentityErrorCode>(
    'IDENTITY_HOME_NOT_OURS',
    named === undefined
      ? `${home} is ${lockout}: open it as uid ${owner}, or give root a home of its own`
      : `${named} names ${home}, ${lockout}: run the command as uid ${owner}, or set ${named} to a home of root's`,
  );
}
