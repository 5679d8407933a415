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
 * Text from a workload or a caller shown as one line: besides what
 * escapeControl escapes, line breaks (LF, CR, U+2028/U+2029) and the bidi
 * marks, embeddings and isolates become `\uNNNN` escapes, so the text can
 * neither fake a row or a prompt line nor reorder what is shown around it.
 * Longer than `max` characters (after escaping), it is cut between two
 * characters (never inside an escape) and ends with `…`.
 */
export function oneLine(text: string, max = Number.POSITIVE_INFINITY): string {
  const pieces: string[] = [];
  let length = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const piece = breaksTheLine(code) ? `\\u${code.toString(16).padStart(4, '0')}` : char;
    pieces.push(piece);
    length += piece.length;
  }
  if (length <= max) return pieces.join('');
  // Cut between escapes, never inside one (a dangling `\` would escape whatever is printed next).
  let kept = '';
  for (const piece of pieces) {
    if (kept.length + piece.length > max - 1) break;
    kept += piece;
  }
  return `${kept}…`;
}

/**
 * Text someone else chose, quoted on one line (oneLine) in at most `max` characters: longer, it is
 * cut at the last space before the bound (or between two characters when the kept part would hold
 * no space past its first half) and ends with `…`. Mask secrets BEFORE quoting: a cut may leave
 * too little of a value for a masker to recognise.
 */
export function quotedLine(text: string, max = 80): string {
  const whole = oneLine(text);
  if (whole.length <= max) return whole;
  const cut = oneLine(text, max).slice(0, -1);
  const space = cut.lastIndexOf(' ');
  return `${space > cut.length / 2 ? cut.slice(0, space) : cut}…`;
}

/** C0/C1 controls, DEL, line/paragraph separators, and bidi marks, embeddings and isolates. */
function breaksTheLine(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
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
