import { describe, expect, it } from 'vitest';
import { echoText, redactText } from './redact.js';

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
