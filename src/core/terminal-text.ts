/**
 * Text from a workload made safe to print on an operator's terminal: C0
 * controls (ESC, BEL, backspace, carriage return…) except tab and newline,
 * DEL and the C1 range (U+0080-U+009F, 8-bit CSI/OSC) become visible `\xNN`
 * escapes, so a guest can neither set the title, write the clipboard
 * (OSC 52), move the cursor nor hide lines. Printable text is unchanged.
 */
export function escapeControl(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (char) => {
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * A value as one line of JSON that is safe on a terminal: `JSON.stringify`
 * escapes only U+0000-U+001F, so DEL and the C1 range (U+009B is an 8-bit
 * CSI) would pass raw; they are written as `\u00NN` escapes instead. Outside
 * strings JSON text has no such characters, so the line parses to the same
 * value. `undefined` when JSON.stringify gives none.
 */
export function terminalSafeJson(value: unknown): string | undefined {
  const text = JSON.stringify(value);
  return text?.replace(/[\u007f-\u009f]/g, (char) => `\\u00${char.charCodeAt(0).toString(16)}`);
}
