import { logError } from './errors.js';
import { isTreeCount } from './tree-math.js';

/**
 * c2sp.org/tlog-tiles paths. N is written in 3-digit groups, all but the last prefixed
 * with "x" (1234067 -> x001/x234/067), so a tile file never collides with a directory.
 */
export function encodeTileIndex(n: number): string {
  if (!isTreeCount(n)) throw logError('LOG_OUT_OF_RANGE', `tile index ${n} is not a non-negative integer`);
  const groups: string[] = [];
  let rest = n;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/');
}

function widthSuffix(width: number): string {
  if (!Number.isInteger(width) || width < 1 || width > 256) {
    throw logError('LOG_OUT_OF_RANGE', `tile width ${width} is not between 1 and 256`);
  }
  return width === 256 ? '' : `.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]`: a hash tile; width 256 is a full tile. */
export function tilePath(level: number, n: number, width: number): string {
  if (!Number.isInteger(level) || level < 0 || level > 63) {
    throw logError('LOG_OUT_OF_RANGE', `tile level ${level} is not between 0 and 63`);
  }
  return `tile/${level}/${encodeTileIndex(n)}${widthSuffix(width)}`;
}

/** `tile/entries/<N>[.p/<W>]`: an entry bundle. */
export function entriesPath(n: number, width: number): string {
  return `tile/entries/${encodeTileIndex(n)}${widthSuffix(width)}`;
}
