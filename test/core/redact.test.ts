import { describe, expect, it } from 'vitest';
import { ECHO_MAX, echoError, echoText, redactText } from '../../src/core/redact.js';

describe('echoText: what an answer may quote of a caller', () => {
  const apiKey = 'oacp_k7Qx2mN9_s3cr3tS3cr3tS3cr3tS3cr3t';
  const providerKey = 'sk-ant-api03-Zx9Qm2Lr8Tv4Wp6Ny1Kc3Hb5';

  it('attack: an OACP key, a provider key and a bearer token in one string never come back', () => {
    const out = echoText(`GET /v1/${apiKey}?k=${providerKey} Authorization: Bearer abc.def.ghi`);
    expect(out).not.toContain('s3cr3t');
    expect(out).not.toContain('Zx9Qm2Lr8Tv4Wp6Ny1Kc3Hb5');
    expect(out).not.toContain('abc.def.ghi');
    expect(out).toContain('sk-[REDACTED]');
    expect(out).toContain('oacp_[REDACTED]');
  });

  it('attack: a 10,000-character string is cut at ECHO_MAX with an ellipsis', () => {
    const out = echoText('x'.repeat(10_000));
    expect(out).toBe(`${'x'.repeat(ECHO_MAX)}…`);
  });

  it('attack: a key straddling the cut is redacted before it is cut (no half-key is left)', () => {
    const text = `${'x'.repeat(ECHO_MAX - 10)}${apiKey}`;
    const out = echoText(text);
    expect(out).not.toContain('k7Qx2');
    expect(out.startsWith('x'.repeat(ECHO_MAX - 10))).toBe(true);
    // Cut in the middle of the key, the pattern would have missed it: the old order leaked a prefix.
    expect(redactText(text.slice(0, ECHO_MAX))).toContain('oacp_k7Q');
  });

  it('echoError takes the message of an Error and the text of anything else', () => {
    expect(echoError(new Error(`failed for ${apiKey}`))).toBe('failed for oacp_[REDACTED]');
    expect(echoError(providerKey)).toBe('sk-[REDACTED]');
  });

  it('ordinary text passes unchanged', () => {
    expect(echoText('no route GET /v1/nothing-here')).toBe('no route GET /v1/nothing-here');
    expect(echoText('sk-short')).toBe('sk-short');
  });
});
