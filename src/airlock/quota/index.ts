// Quotas: rate limits per principal (QuotaLedger) and per-request limits (RequestMeter).
export { type Clock, type ManualClock, manualClock, monotonicClock } from './clock.js';
export { type QuotaErrorCode, QuotaExceededError } from './errors.js';
export { QuotaLedger, type QuotaUsage, type RateUsage } from './ledger.js';
export { RATE_QUOTAS, type RateQuota, rateSpec } from './rate-quotas.js';
export { RequestMeter, type RequestQuota, type RequestUsage } from './request-meter.js';
export { TokenBucket } from './token-bucket.js';
