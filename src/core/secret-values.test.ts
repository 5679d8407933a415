import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SECRET_VALUES_MAX, SecretValues } from './secret-values.js';

describe('SecretValues', () => {
  it('masks a registered value that no pattern knows, and its encodings', () => {
    const secrets = new SecretValues();
    const value = 'plain/value+with=odd chars';
    expect(secrets.mask(`x ${value}`)).toBe(`x ${value}`);
    secrets.add([value]);
    const text = `raw ${value} url ${encodeURIComponent(value)} b64 ${Buffer.from(value).toString('base64')}`;
    const masked = secrets.mask(text);
    expect(masked).toMatch(/^raw \[REDACTED\] url \[REDACTED\] b64 \[REDACTED\]/);
    expect(masked).not.toContain(Buffer.from(value).toString('base64').replace(/=+$/, ''));
  });

  it('belongs to one instance: another knows none of its values', () => {
    const one = new SecretValues();
    one.add(['only-in-the-first-one']);
    expect(new SecretValues().mask('only-in-the-first-one')).toBe('only-in-the-first-one');
  });

  it('ignores values too short to mask safely, and never shows its values', () => {
    const secrets = new SecretValues();
    secrets.add(['', 'short', 'long-enough-value']);
    expect(secrets.size).toBe(1);
    expect(JSON.stringify(secrets)).toBe('{"size":1}');
    expect(inspect(secrets)).not.toContain('long-enough-value');
  });

  it('is bounded: past the limit the oldest value is forgotten', () => {
    const secrets = new SecretValues();
    secrets.add(Array.from({ length: SECRET_VALUES_MAX + 1 }, (_, i) => `value-number-${i}`));
    expect(secrets.size).toBe(SECRET_VALUES_MAX);
    expect(secrets.mask('value-number-0;')).toBe('value-number-0;');
    expect(secrets.mask(`value-number-${SECRET_VALUES_MAX};`)).toBe('[REDACTED];');
  });
});
