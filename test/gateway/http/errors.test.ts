import { describe, expect, it } from 'vitest';
import { OacpError } from '../../../src/core/errors.js';
import { httpError, statusOf, toHttpFailure } from '../../../src/gateway/http/errors.js';
import { quotaRefusal, runtimeError } from '../../../src/gateway/runtime/errors.js';

describe('error codes to HTTP statuses (one typed map)', () => {
  it('maps each request-caused code to its status, with its message', () => {
    expect(toHttpFailure(httpError('BAD_REQUEST', 'value: expected a string'))).toEqual({
      status: 400,
      body: { error: { code: 'BAD_REQUEST', message: 'value: expected a string' } },
    });
    expect(statusOf('UNAUTHENTICATED')).toBe(401);
    expect(statusOf('HOST_REFUSED')).toBe(403);
    expect(statusOf('PAYLOAD_TOO_LARGE')).toBe(413);
    expect(statusOf('AGENT_ATTRIBUTES_INVALID')).toBe(400);
    expect(statusOf('APIKEY_SCOPE_INVALID')).toBe(400);
    expect(toHttpFailure(runtimeError('RUNTIME_AGENT_RESTARTING', 'restarting')).retryAfterSeconds).toBe(1);
    const quota = toHttpFailure(quotaRefusal('agent.api_calls_per_hour', 'over', 2500));
    expect(quota).toMatchObject({
      status: 429,
      retryAfterSeconds: 3,
      body: { error: { quota: 'agent.api_calls_per_hour' } },
    });
  });

  it('answers 500 with a generic message for anything else, never its text', () => {
    for (const error of [
      new OacpError('STORE_QUERY_FAILED', 'relation "secret_table" does not exist'),
      new OacpError('AGENT_RECORD_INVALID', 'row 7 is damaged'),
      new RangeError('Maximum call stack size exceeded'),
      'a string',
      new OacpError('toString', 'prototype keys are not codes'),
    ]) {
      const failure = toHttpFailure(error);
      expect(failure.status).toBe(500);
      expect(failure.body).toEqual({
        error: { code: 'INTERNAL', message: 'internal error; see the gateway log' },
      });
    }
  });

  it('never passes a secret-shaped text through a client-facing message', () => {
    const failure = toHttpFailure(
      httpError('BAD_REQUEST', 'bad key oacp_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'),
    );
    expect(JSON.stringify(failure.body)).not.toContain('AAAAAAAAAAAAAAAAAAAA');
  });
});
