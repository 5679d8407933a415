import { OacpError } from '../../core/errors.js';

export type QuotaErrorCode = 'QUOTA_EXCEEDED';

/** Thrown by the `...OrThrow` helpers; carries the quota's name and limit for receipts and callers. */
export class QuotaExceededError extends OacpError<QuotaErrorCode> {
  constructor(
    readonly quota: string,
    readonly limit: number,
    message: string,
  ) {
    super('QUOTA_EXCEEDED', message);
    this.name = 'QuotaExceededError';
  }
}
