import { concat, sha256 } from './bytes.js';

/** Reads one c2sp.org/tlog-tiles file (`tile/<L>/<N>[.p/<W>]`); the console fetches /v1/log/<path>. */
export type TileReader = (path: string) => Promise<Uint8Array>;

const HEIGHT = 8;
const WIDTH = 1 << HEIGHT;

/** `tile/<L>/<N>[.p/<W>]` with N in 3-digit groups, all but the last prefixed "x". */
export function tilePath(level: number, n: number, width: number): string {
  const groups: string[] = [];
  let rest = n;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  const index = groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/');
  return `tile/${level}/${index}${width === WIDTH ? '' : `.p/${width}`}`;
}

/**
 * RFC 6962 inclusion proof for entry `index` of a tree of `size`, built from the
 * log's public hash tiles (as a tlog-tiles client does), not taken from the server.
 * Each tile is read once. Throws when a tile is missing or has the wrong length.
 */
export async function inclusionProofFromTiles(
  index: number,
  size: number,
  read: TileReader,
): Promise<Uint8Array[]> {
  const tiles = new Map<string, Promise<Uint8Array>>();
  const tile = (level: number, n: number): Promise<Uint8Array> => {
    // How many hashes of this tile's level the tree of `size` has, and so this tile's width.
    const count = Math.floor(size / 2 ** (level * HEIGHT));
    const width = Math.min(WIDTH, count - n * WIDTH);
    if (width < 1) return Promise.reject(new Error(`no tile ${level}/${n} in a tree of ${size}`));
    const path = tilePath(level, n, width);
    let found = tiles.get(path);
    if (found === undefined) {
      found = read(path).then((bytes) => {
        if (bytes.length !== width * 32)
          throw new Error(`tile ${path} has ${bytes.length} bytes, not ${width * 32}`);
        return bytes;
      });
      tiles.set(path, found);
    }
    return found;
  };

  /** The hash of the perfect subtree of height `k` at position `j` (leaves j*2^k to (j+1)*2^k - 1). */
  const perfect = async (k: number, j: number): Promise<Uint8Array> => {
    const level = Math.floor(k / HEIGHT);
    const rest = k % HEIGHT;
    const first = j * 2 ** rest;
    const n = Math.floor(first / WIDTH);
    const bytes = await tile(level, n);
    let row: Uint8Array[] = [];
    for (let at = first - n * WIDTH; at < first - n * WIDTH + 2 ** rest; at += 1)
      row.push(bytes.slice(at * 32, at * 32 + 32));
    while (row.length > 1) {
      const next: Uint8Array[] = [];
      for (let at = 0; at < row.length; at += 2)
        next.push(await sha256(concat(Uint8Array.of(1), row[at] as Uint8Array, row[at + 1] as Uint8Array)));
      row = next;
    }
    return row[0] as Uint8Array;
  };

  /** MTH of leaves [lo, hi): perfect subtrees from the left, folded right to left. */
  const range = async (lo: number, hi: number): Promise<Uint8Array> => {
    const parts: Uint8Array[] = [];
    for (let at = lo; at < hi; ) {
      let k = 0;
      while (at % 2 ** (k + 1) === 0 && at + 2 ** (k + 1) <= hi) k += 1;
      parts.push(await perfect(k, at / 2 ** k));
      at += 2 ** k;
    }
    let hash = parts.pop() as Uint8Array;
    while (parts.length > 0) hash = await sha256(concat(Uint8Array.of(1), parts.pop() as Uint8Array, hash));
    return hash;
  };

  // RFC 6962 §2.1.1 PATH(m, D[lo:hi]), leaf sibling first.
  const path = async (m: number, lo: number, hi: number): Promise<Uint8Array[]> => {
    if (hi - lo <= 1) return [];
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return m < lo + k
      ? [...(await path(m, lo, lo + k)), await range(lo + k, hi)]
      : [...(await path(m, lo + k, hi)), await range(lo, lo + k)];
  };
  if (!Number.isSafeInteger(index) || index < 0 || index >= size)
    throw new Error(`index ${index} is not in a tree of ${size}`);
  return path(index, 0, size);
}
