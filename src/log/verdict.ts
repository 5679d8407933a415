import type { LogErrorCode } from './errors.js';

/**
 * The outcome of a verification: a value with a reason rather than a boolean, so a
 * refusal can be shown, logged or put in a receipt exactly as it was made.
 */
export type Verdict<T = undefined> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: LogErrorCode; readonly reason: string };

export function accept(): Verdict;
export function accept<T>(value: T): Verdict<T>;
export function accept<T>(value?: T): Verdict<T | undefined> {
  return { ok: true, value };
}

export function reject(
  code: LogErrorCode,
  reason: string,
): { ok: false; code: LogErrorCode; reason: string } {
  return { ok: false, code, reason };
}
