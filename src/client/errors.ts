import type { ReceiptLinkBody } from '../gateway/http/api-schemas.js';

/** A refusal or failure answered by the gateway (`{error: {code, message}}`), or a transport failure. */
export class OacpApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly quota?: string,
    readonly receipt?: ReceiptLinkBody,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'OacpApiError';
  }
}
