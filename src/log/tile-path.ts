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

/** A served tile path taken apart: level (or 'entries'), tile index and width (256 = full). */
export interface TileAddress {
  readonly level: number | 'entries';
  readonly n: number;
  readonly width: number;
}

const TILE_ADDRESS = /^tile\/(entries|[0-9]{1,2})\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([0-9]{1,3}))?$/;

/** The inverse of tilePath/entriesPath; undefined for anything that is not exactly one of them. */
export function parseTilePath(path: string): TileAddress | undefined {
  const match = TILE_ADDRESS.exec(path);
  if (match === null) return undefined;
  const [, levelText = '', indexText = '', widthText] = match;
  const level = levelText === 'entries' ? 'entries' : Number(levelText);
  const n = Number(indexText.replaceAll('x', '').replaceAll('/', ''));
  const width = widthText === undefined ? 256 : Number(widthText);
  if (!Number.isSafeInteger(n) || width < 1 || width > 255 + (widthText === undefined ? 1 : 0))
    return undefined;
  if (level !== 'entries' && level > 63) return undefined;
  // Only the canonical spelling: 001 and x000/001 name one tile, so accept just the one tilePath writes.
  const canonical = level === 'entries' ? entriesPath(n, width) : tilePath(level, n, width);
  return canonical === path ? { level, n, width } : undefined;
}
