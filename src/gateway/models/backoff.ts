/**
 * "Full jitter" exponential backoff: a uniformly random delay in
 * [0, min(cap, base * 2^attempt)], so clients retrying together spread out.
 * A provider's Retry-After (seconds), when given and not longer than the cap,
 * is honoured instead.
 */
export function backoffMs(
  attempt: number,
  options: { readonly baseMs?: number; readonly capMs?: number; readonly random?: () => number } = {},
  retryAfterSeconds?: number,
): number {
  const cap = options.capMs ?? 5_000;
  if (retryAfterSeconds !== undefined && retryAfterSeconds >= 0 && retryAfterSeconds * 1000 <= cap) {
    return retryAfterSeconds * 1000;
  }
  const ceiling = Math.min(cap, (options.baseMs ?? 100) * 2 ** attempt);
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/** Statuses worth another try (here or at the next provider): rate limits, overload and server errors. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}
