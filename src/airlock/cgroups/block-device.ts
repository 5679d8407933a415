import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Linux dev_t encoding (glibc's gnu_dev_major/minor). */
function split(dev: bigint): { major: bigint; minor: bigint } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major, minor };
}

/**
 * "major:minor" of the whole disk holding `path`, the form blkio and io.max
 * take (throttles apply to disks, not partitions); undefined when the file
 * system has no block device (tmpfs, overlay, network file systems).
 */
export function blockDeviceOf(path: string): string | undefined {
  let dev: bigint;
  try {
    dev = statSync(path, { bigint: true }).dev;
  } catch {
    return undefined;
  }
  const { major, minor } = split(dev);
  if (major === 0n) return undefined;
  const sys = `/sys/dev/block/${major}:${minor}`;
  if (!existsSync(sys)) return undefined;
  if (!existsSync(join(sys, 'partition'))) return `${major}:${minor}`;
  try {
    return readFileSync(join(dirname(realpathSync(sys)), 'dev'), 'utf8').trim();
  } catch {
    return undefined;
  }
}
