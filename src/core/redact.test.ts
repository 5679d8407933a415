import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { echoText, redactEveryPattern, redactText } from './redact.js';

describe('redactText on URLs', () => {
  it("attack: a URL's credentials and its token-bearing query parameters never come back in clear", () => {
    const cases: Array<[string, string[]]> = [
      ['https://alice:hunter2-pass@api.example.com/v1', ['hunter2-pass', 'alice:']],
      ['https://ghp_tokenAsUser123@github.com/o/r.git', ['ghp_tokenAsUser123']],
      ['http://h.test/x?api_key=K1a2b3c4d5&page=2', ['K1a2b3c4d5']],
      ['GET http://h.test/cb?code=oauthcode77#access_token=at-9f8e7d&state=s', ['oauthcode77', 'at-9f8e7d']],
      [
        'https://b.s3.amazonaws.com/o?X-Amz-Credential=AKIAX%2F2026&X-Amz-Signature=abcdef0123456789',
        ['AKIAX', 'abcdef0123456789'],
      ],
      ['cannot reach https://h.test/?token=tok-zzz9&sig=sig-yyy8: ECONNREFUSED', ['tok-zzz9', 'sig-yyy8']],
      ['https://h.test/?client%5Fsecret=cs-777', ['cs-777']],
    ];
    for (const [text, secrets] of cases) {
      const out = redactText(text);
      for (const secret of secrets) expect(out, text).not.toContain(secret);
      expect(out).toContain('[REDACTED]');
    }
  });

  it('keeps what is not a credential: the host, the path, other parameters', () => {
    expect(redactText('https://alice:pw123456@api.example.com/v1?page=2&token=t0k3n')).toBe(
      'https://[REDACTED]@api.example.com/v1?page=2&token=[REDACTED]',
    );
    expect(redactText('quota network_requests_per_min exceeded: limit 2/min; burst=0')).toBe(
      'quota network_requests_per_min exceeded: limit 2/min; burst=0',
    );
    expect(echoText('see http://h.test/a?q=1&x=y')).toBe('see http://h.test/a?q=1&x=y');
  });
});

describe('redactText shortcut', () => {
  // Text with no character or prefix any pattern needs is returned untouched without the
  // replacements; this holds it to what every replacement gives, on text made of the fragments
  // the patterns look for (in any case), secrets of each kind, and plain words.
  const fragments = [
    'https://',
    'http://u:p4ssword@h.test/',
    '://',
    '?',
    '&',
    ';',
    '#',
    '=',
    'token=abc123',
    'sig=s1g',
    'oacp_',
    'oacp_abcdef123456',
    'OACP_ABCDEF123456',
    'sk-',
    'sk-abcdefghijklmnop1234',
    'Bearer ',
    'bearer abc.def',
    'BASIC dXNlcjpwYXNz',
    '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----',
    '-----begin ',
    'permitted by policy bench',
    ' ',
    ':',
    '/',
    'é',
    '"',
  ];
  it('gives what every replacement gives, for any text', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...fragments), fc.string()), { maxLength: 12 }),
        (parts) => {
          const text = parts.join('');
          expect(redactText(text)).toBe(redactEveryPattern(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('still redacts a key on its own, with nothing around it', () => {
    expect(redactText('oacp_abcdef123456')).toBe('oacp_[REDACTED]');
    expect(redactText('sk-abcdefghijklmnop1234')).toBe('sk-[REDACTED]');
    expect(redactText('Basic dXNlcjpwYXNz')).toBe('Basic [REDACTED]');
  });
});
