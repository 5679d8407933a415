import { OacpError } from '../core/errors.js';
import { inputFileFailure, readInputText } from '../core/input-file.js';
import type { ClientErrorCode } from './errors.js';

/**
 * A client's configuration file (`--config-path`, or the client's own), read to the bound every
 * user-named file has: `--config-path /dev/zero` read 8 GB before failing.
 */
export function readClientFile(path: string): string {
  try {
    return readInputText(path);
  } catch (error) {
    throw new OacpError<ClientErrorCode>(
      'CLIENT_CONFIG_READ',
      `cannot read ${path}: ${inputFileFailure(error)}`,
    );
  }
}
