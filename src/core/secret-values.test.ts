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

  it('never forgets a pinned value: the master key stays masked past 10,000 other values', () => {
    const secrets = new SecretValues();
    const master = Buffer.alloc(32, 7);
    const hex = master.toString('hex');
    // The master key's text forms (masterKeyTexts in src/identity/master-key.ts).
    const forms = [hex, hex.toUpperCase(), master.toString('base64'), master.toString('base64url')];
    secrets.pin(forms);
    secrets.add(Array.from({ length: 10_000 }, (_, i) => `agent-key-number-${i}`));
    for (const form of forms) expect(secrets.mask(`leak ${form};`)).toBe('leak [REDACTED];');
    expect(secrets.mask('agent-key-number-0;')).toBe('agent-key-number-0;');
    expect(secrets.mask('agent-key-number-9999;')).toBe('[REDACTED];');
    expect(secrets.size).toBe(SECRET_VALUES_MAX + new Set(forms).size);
  });

  it('moves a value pinned after it was added out of the bounded tier', () => {
    const secrets = new SecretValues();
    secrets.add(['the-node-own-key-text']);
    secrets.pin(['the-node-own-key-text']);
    secrets.add(Array.from({ length: SECRET_VALUES_MAX }, (_, i) => `value-number-${i}`));
    expect(secrets.mask('the-node-own-key-text')).toBe('[REDACTED]');
    expect(secrets.size).toBe(SECRET_VALUES_MAX + 1);
  });

  it('masks a value registered after a first mask (the lookup is rebuilt on change)', () => {
    const secrets = new SecretValues();
    secrets.add(['first-value-here']);
    expect(secrets.mask('second-value-here')).toBe('second-value-here');
    secrets.add(['second-value-here']);
    expect(secrets.mask('second-value-here first-value-here')).toBe('[REDACTED] [REDACTED]');
  });
});
