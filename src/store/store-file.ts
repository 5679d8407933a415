import { statSync } from 'node:fs';
import { notOursReason } from '../core/not-ours.js';
import { storeError } from './errors.js';

/** As `existsSync`, except that a file this uid may not look at is refused, named, rather than "not there". */
export function storeFileExists(path: string, home?: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    const reason = notOursReason(path, error, home);
    if (reason !== undefined) throw storeError('STORE_OPEN_FAILED', reason, error);
    return false;
  }
}
