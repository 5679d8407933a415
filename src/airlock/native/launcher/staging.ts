import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenedPath } from '../grant-open.js';

/**
 * One empty mount point per grant descriptor under DIR/grants (a directory
 * for a directory, a file for a file): where the launcher attaches a staged
 * or idmapped grant in its private mount namespace. Only the launcher's
 * namespace ever sees anything mounted there.
 */
export function stagingPoints(dir: string, handles: readonly OpenedPath[]): string[] {
  const staging = join(dir, 'grants');
  mkdirSync(staging, { mode: 0o755 });
  return handles.map((handle, index) => {
    const path = join(staging, String(index));
    if (handle.directory) mkdirSync(path);
    else writeFileSync(path, '');
    return path;
  });
}
