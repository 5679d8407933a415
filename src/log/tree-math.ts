/**
 * Integer helpers for tree sizes. Arithmetic rather than bit operators, because
 * JavaScript's `>>` and `&` truncate to 32 bits and a log may outgrow 2^32 entries.
 */

/** The largest power of two strictly smaller than n (n >= 2): the RFC 6962 split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** log2(n) when n is a power of two, otherwise -1. */
export function exactLog2(n: number): number {
  if (n < 1) return -1;
  let level = 0;
  let value = 1;
  while (value < n) {
    value *= 2;
    level += 1;
  }
  return value === n ? level : -1;
}

export function isOdd(n: number): boolean {
  return n % 2 === 1;
}

export function half(n: number): number {
  return Math.floor(n / 2);
}

/** A tree size or index: a non-negative safe integer. */
export function isTreeCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
