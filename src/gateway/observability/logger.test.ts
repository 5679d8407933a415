import { describe, expect, it } from 'vitest';
import { REDACT_LIMITS, redact, redactText } from '../../core/redact.js';
import { SecretValues } from '../../core/secret-values.js';
import { LOG_STRING_MAX, Logger } from './logger.js';

describe('structured logs', () => {
  it('writes one JSON object per line with time, level, msg and fields', () => {
    const lines: string[] = [];
    const log = new Logger(
      (line) => lines.push(line),
      'info',
      { service: 'gw' },
      () => new Date(0),
    );
    log.child({ requestId: 'r1' }).info('request done', { status: 200 });
    log.debug('not written');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      msg: 'request done',
      service: 'gw',
      requestId: 'r1',
      status: 200,
    });
  });

  it('writes DEL and C1 controls (U+009B, an 8-bit CSI) as JSON escapes: a line never carries a raw control', () => {
    const lines: string[] = [];
    const log = new Logger((line) => lines.push(line));
    const line = '\u009b31m\u007f\u0080\u009f\u001b[2J \u00a0é';
    log.debug('not written', { line });
    log.info('mcp server', { line, nested: [{ text: line }] });
    const written = lines[0] ?? '';
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw control characters is the point.
    expect(written).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(written).toContain('"\\u009b31m\\u007f\\u0080\\u009f\\u001b[2J \u00a0é"');
    expect(JSON.parse(written)).toMatchObject({ msg: 'mcp server', line, nested: [{ text: line }] });
  });

  it('redacts secret fields and secret-shaped strings wherever they appear', () => {
    const lines: string[] = [];
    const log = new Logger((line) => lines.push(line));
    const key = 'oacp_sk_0123456789abcdefghijklmnop';
    log.warn(`auth failed for ${key}`, {
      headers: { authorization: `Bearer ${key}`, 'x-request-id': 'abc' },
      apiKey: key,
      masterKey: 'deadbeef',
      nested: [{ token: 't0p' }, { note: `Bearer eyJhbGciOi.abc.def` }],
      error: new Error(`bad key ${key}`),
    });
    const line = lines[0] ?? '';
    expect(line).not.toContain(key);
    expect(line).not.toContain('deadbeef');
    expect(line).not.toContain('t0p');
    expect(line).not.toContain('eyJhbGciOi');
    const record = JSON.parse(line);
    expect(record.headers['x-request-id']).toBe('abc');
    expect(record.headers.authorization).toBe('[REDACTED]');
    expect(record.error.message).toBe('bad key oacp_[REDACTED]');
  });

  it('masks PEM private keys inside text', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----';
    expect(redactText(`key: ${pem}`)).toBe('key: [REDACTED PRIVATE KEY]');
  });

  it('never throws on cycles or odd values', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => JSON.stringify(redact(cyclic))).not.toThrow();
    const lines: string[] = [];
    new Logger((line) => lines.push(line)).info('odd', { big: 10n, cyclic });
    expect(JSON.parse(lines[0] ?? '').big).toBe('10');
  });

  it('cuts every long string (msg, a field, a nested field, a field name) and says how much it cut', () => {
    const lines: string[] = [];
    const log = new Logger((line) => lines.push(line));
    const huge = 'x'.repeat(5_000_000);
    log.error(huge, { body: huge, nested: { list: [huge] }, [huge]: 1, short: 'kept' });
    const written = lines[0] ?? '';
    expect(written.length).toBeLessThan(5 * (LOG_STRING_MAX + 64));
    const cut = `${'x'.repeat(LOG_STRING_MAX)}…[${5_000_000 - LOG_STRING_MAX} chars cut]`;
    expect(JSON.parse(written)).toEqual({
      time: expect.any(String),
      level: 'error',
      msg: cut,
      body: cut,
      nested: { list: [cut] },
      [cut]: 1,
      short: 'kept',
    });
  });

  it('never cuts a surrogate pair in half', () => {
    const lines: string[] = [];
    const log = new Logger((line) => lines.push(line));
    log.info('m', { text: `${'a'.repeat(LOG_STRING_MAX - 1)}😀😀` });
    const text = (JSON.parse(lines[0] ?? '') as { text: string }).text;
    expect(text).toBe(`${'a'.repeat(LOG_STRING_MAX - 1)}…[4 chars cut]`);
  });

  it('masks the values of its SecretValues everywhere, children included, before cutting', () => {
    const lines: string[] = [];
    const secrets = new SecretValues();
    const log = new Logger((line) => lines.push(line)).withSecrets(secrets).child({ requestId: 'r' });
    const value = 'vault-value-no-pattern-knows';
    secrets.add([value]);
    log.error(`refused ${value}`, {
      error: new Error(`bad token ${value}`),
      [value]: 1,
      near: `${'a'.repeat(LOG_STRING_MAX - 5)}${value}`,
    });
    const written = lines[0] ?? '';
    expect(written).not.toContain(value);
    expect(written).not.toContain('vault');
    expect(JSON.parse(written)).toMatchObject({
      msg: 'refused [REDACTED]',
      requestId: 'r',
      error: { message: 'bad token [REDACTED]' },
      '[REDACTED]': 1,
    });
  });
});

describe('Logger bounds the shape of what it logs', () => {
  it('keeps at most REDACT_LIMITS keys, items and levels of a flood of a value, and says how many it left out', () => {
    const lines: string[] = [];
    const log = new Logger((line) => lines.push(line));
    const wide: Record<string, number> = {};
    for (let i = 0; i < 50_000; i++) wide[`k${i}`] = i;
    let deep: unknown = 'bottom';
    for (let i = 0; i < 1_000; i++) deep = { d: deep };
    const long = Array.from({ length: 50_000 }, (_, i) => i);
    log.warn('upstream answer', { wide, deep, long });
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? '';
    expect(line.length).toBeLessThan(20_000);
    const parsed = JSON.parse(line) as {
      wide: Record<string, unknown>;
      deep: unknown;
      long: unknown[];
    };
    expect(Object.keys(parsed.wide)).toHaveLength(REDACT_LIMITS.keys + 1);
    expect(parsed.wide['…']).toBe(`[${50_000 - REDACT_LIMITS.keys} keys left out]`);
    expect(parsed.long).toHaveLength(REDACT_LIMITS.items + 1);
    expect(parsed.long.at(-1)).toBe(`[${50_000 - REDACT_LIMITS.items} items left out]`);
    expect(line).toContain('[deeper levels left out]');
    expect(line).not.toContain('bottom');
  });

  it('stops at REDACT_LIMITS.values values in all, however they are nested', () => {
    const lines: string[] = [];
    const log = new Logger((line) => lines.push(line));
    // 100 keys of 100 items of 100 items: a million values, each within the per-level bounds.
    const row = Array.from({ length: 100 }, () => Array.from({ length: 100 }, () => 'x'));
    const body: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) body[`k${i}`] = row;
    log.info('m', { body });
    const line = lines[0] ?? '';
    expect(line.split('"x"').length - 1).toBeLessThan(REDACT_LIMITS.values);
    expect(line).toMatch(/items left out\]/);
    expect(line).toMatch(/"…":"\[\d+ keys left out\]"/);
    expect(line.length).toBeLessThan(40_000);
  });
});
