import { describe, expect, it } from 'vitest';
import { escapeControl, oneLine } from '../../src/core/terminal-text.js';

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
});
