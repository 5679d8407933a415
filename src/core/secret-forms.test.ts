import { describe, expect, it } from 'vitest';
import { REDACTED } from './redact.js';
import { FormMasker, secretForms } from './secret-forms.js';

/** The plain way FormMasker must agree with: every form in turn, longest first. */
function replaceEach(text: string, forms: string[]): string {
  let out = text;
  for (const form of [...new Set(forms)].sort((a, b) => b.length - a.length)) {
    if (form !== '') out = out.split(form).join(REDACTED);
  }
  return out;
}

/** A small deterministic generator (xorshift), so a failure replays. */
function generator(seed: number): (below: number) => number {
  let state = seed;
  return (below) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

describe('FormMasker', () => {
  it('gives what replacing every form in turn gives, also where forms overlap each other or the mark', () => {
    const next = generator(0x5eed);
    const alphabet = 'abAB+/=_-[]REDACTED%"\\ ';
    const text = (length: number) => Array.from({ length }, () => alphabet[next(alphabet.length)]).join('');
    for (let round = 0; round < 2000; round += 1) {
      const values = Array.from({ length: 1 + next(5) }, () =>
        next(4) === 0 ? 'REDACTED' : text(8 + next(6)),
      );
      const forms = values.flatMap(secretForms);
      let input = '';
      for (let piece = 0; piece < 6; piece += 1) {
        const value = values[next(values.length)] as string;
        const leak = secretForms(value)[next(5)] as string;
        input += text(next(5)) + (next(2) === 0 ? leak : '') + (next(3) === 0 ? value.slice(0, 5) : '');
      }
      expect(new FormMasker(forms).mask(input)).toBe(replaceEach(input, forms));
    }
  });

  it('tells apart forms whose prefixes share a lookup key (a text holding one is masked of it alone)', () => {
    // "Aa" and "BB" weigh the same in the prefix key (31 * 65 + 97 = 31 * 66 + 66): these two
    // prefixes share a key, and only startsWith may decide which form a text holds.
    const one = 'AaAaAaAa-first-secret';
    const two = 'BBBBBBBB-other-secret';
    const masker = new FormMasker([one, two]);
    expect(masker.mask(`x ${two} y`)).toBe(`x ${REDACTED} y`);
    expect(masker.mask('x BBBBBBBB-first-secret y')).toBe('x BBBBBBBB-first-secret y');
    expect(masker.mask(`${one}${two}`)).toBe(`${REDACTED}${REDACTED}`);
  });

  it('leaves a text with no form as it is', () => {
    const masker = new FormMasker(secretForms('a-secret-value'));
    expect(masker.mask('nothing to see here')).toBe('nothing to see here');
  });
});
