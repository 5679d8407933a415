import { describe, expect, it } from 'vitest';
import { bearerCheck, newBearerToken } from './bearer-token.js';

describe('bearerCheck', () => {
  const token = newBearerToken();
  const check = bearerCheck(token);

  it('takes the token under the scheme in any case, after one or more spaces (RFC 9110 11.1, RFC 6750 2.1)', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect(check(`${scheme} ${token}`), scheme).toBe(true);
    }
    expect(check(`Bearer   ${token}`)).toBe(true);
  });

  it('refuses another token, another scheme, a token in a different case, extra text, a list of headers', () => {
    expect(check(undefined)).toBe(false);
    expect(check('')).toBe(false);
    expect(check(`Bearer ${newBearerToken()}`)).toBe(false);
    expect(check(`Basic ${token}`)).toBe(false);
    expect(check(`Bearer${token}`)).toBe(false);
    expect(check(`Bearer ${token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase()}`)).toBe(
      false,
    );
    expect(check(`Bearer ${token} extra`)).toBe(false);
    expect(check(`Bearer ${token}x`)).toBe(false);
    expect(check([`Bearer ${token}`, `Bearer ${token}`])).toBe(false);
  });

  it('refuses to be made with a token a client could not send', () => {
    expect(() => bearerCheck('short')).toThrow(/32 to 512/);
    expect(() => bearerCheck(`${'a'.repeat(40)} b`)).toThrow(/32 to 512/);
  });
});
