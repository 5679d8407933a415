import { fstatSync } from 'node:fs';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from '../native/errors.js';
import type { PreparedSpec } from '../native/prepare.js';

/**
 * runsc binds only directories and regular files: a grant of a FIFO, a
 * socket or a device file failed inside runsc with its own mount error (exit
 * 128) after the sandbox had been set up. Refused before, by what each opened
 * grant is, naming the grant and what to do instead.
 */
export function refuseSpecialFileGrants(prepared: PreparedSpec): void {
  prepared.mounts.forEach((mount, index) => {
    const handle = prepared.handles[index];
    if (handle === undefined) return;
    const stat = fstatSync(handle.fd);
    if (stat.isDirectory() || stat.isFile()) return;
    const kind = stat.isFIFO()
      ? 'a FIFO'
      : stat.isSocket()
        ? 'a Unix socket'
        : stat.isCharacterDevice() || stat.isBlockDevice()
          ? 'a device file'
          : 'not a regular file';
    throw new OacpError<NativeErrorCode>(
      'AIRLOCK_BAD_SPEC',
      `the gvisor tier binds only directories and regular files, and grant ${mount.target} is ${kind}; leave it out of --allow-files (manifest: capabilities.file_read/file_write), or use --tier hardened`,
    );
  });
}
