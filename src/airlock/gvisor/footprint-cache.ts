import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { trustedCacheDirectory, trustworthy } from '../native/launcher/build.js';
import { PROBE_ALLOWANCE_BYTES } from './footprint.js';

/** Bumped when the measurement changes, so an old reading is never reused. */
const MEASUREMENT = 'footprint-v1';

/**
 * What the reading depends on: this runsc binary (path, inode, size, mtime),
 * the kernel, rootless or not, and the cgroup version. Any change measures
 * again.
 */
export function footprintKey(runsc: string, rootless: boolean, cgroupVersion: 1 | 2): string | undefined {
  try {
    const path = realpathSync(runsc);
    const stat = statSync(path);
    return createHash('sha256')
      .update(
        [MEASUREMENT, path, stat.ino, stat.size, stat.mtimeMs, release(), rootless, cgroupVersion].join('\0'),
      )
      .digest('hex')
      .slice(0, 16);
  } catch {
    return undefined;
  }
}

function cacheFile(key: string): string | undefined {
  const dir = trustedCacheDirectory();
  return dir === undefined ? undefined : join(dir, `gvisor-${key}`);
}

/**
 * A footprint measured earlier on this host, kept beside the launcher (ours,
 * closed to others); anything else, or a value out of range, is measured
 * again rather than trusted.
 */
export function readFootprint(key: string): number | undefined {
  const file = cacheFile(key);
  if (file === undefined || !trustworthy(file)) return undefined;
  try {
    const bytes = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(bytes) && bytes > 1024 * 1024 && bytes < PROBE_ALLOWANCE_BYTES
      ? bytes
      : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps a reading for the next OACP process; a cache that cannot be written only costs a new measurement. */
export function writeFootprint(key: string, bytes: number): void {
  const file = cacheFile(key);
  if (file === undefined) return;
  try {
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, `${bytes}\n`, { mode: 0o644 });
    renameSync(partial, file);
  } catch {
    // Measured again next time.
  }
}

/**
 * This host's footprint for this runsc: the kept reading, or a new one from
 * `measure` (kept for the next process). Undefined when there is no key (no
 * runsc binary to identify); `measure`'s error is passed on.
 */
export async function hostFootprint(
  runsc: string,
  rootless: boolean,
  cgroupVersion: 1 | 2,
  measure: () => Promise<number>,
): Promise<{ readonly bytes: number; readonly measured: boolean } | undefined> {
  const key = footprintKey(runsc, rootless, cgroupVersion);
  if (key === undefined) return undefined;
  const kept = readFootprint(key);
  if (kept !== undefined) return { bytes: kept, measured: false };
  const bytes = await measure();
  writeFootprint(key, bytes);
  return { bytes, measured: true };
}
