import { describe, expect, it } from 'vitest';
import { escapeControl, oneLine, quotedLine } from '../../src/core/terminal-text.js';

describe('oneLine', () => {
  it('escapes what escapeControl does and line breaks and bidi controls too', () => {
    const text = 'a\u001b]52;c;eA==\u0007b\nc\r\u2028\u2029\u202e\u2066d\u0085\tz';
    expect(escapeControl(text)).toContain('\n');
    expect(oneLine(text)).toBe(
      'a\\u001b]52;c;eA==\\u0007b\\u000ac\\u000d\\u2028\\u2029\\u202e\\u2066d\\u0085\\u0009z',
    );
  });

  it('leaves printable text, quotes and other scripts alone', () => {
    const text = 'write_file "x" \\ 日本語 ✓ 😀';
    expect(oneLine(text)).toBe(text);
  });

  it('cuts past max after escaping, marking the cut', () => {
    expect(oneLine('abcdef', 4)).toBe('abc…');
    expect(oneLine('\n\n', 8)).toBe('\\u000a…');
    expect(oneLine('ab\n', 7)).toBe('ab…');
    expect(oneLine('abcd', 4)).toBe('abcd');
  });

  it('quotedLine cuts at the last space before the bound, between characters when there is none late enough', () => {
    expect(quotedLine('short banner')).toBe('short banner');
    expect(quotedLine('one two three four', 12)).toBe('one two…');
    expect(quotedLine('https://example.com/aaaaaaaaaaaa', 12)).toBe('https://exa…');
    expect(quotedLine('a\u202eb c\nd e', 15)).toBe('a\\u202eb…');
    expect(quotedLine('x'.repeat(200)).length).toBe(80);
  });
});
