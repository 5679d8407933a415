/**
 * 1-based line and column of a Cedar source offset. Cedar reports UTF-8 byte
 * offsets (it is Rust), so the prefix is measured in bytes and counted in characters.
 */
export function lineAndColumn(text: string, byteOffset: number): { line: number; column: number } {
  const bytes = Buffer.from(text, 'utf8');
  const prefix = bytes.subarray(0, Math.max(0, Math.min(byteOffset, bytes.length))).toString('utf8');
  const lines = prefix.split('\n');
  const last = lines[lines.length - 1] ?? '';
  return { line: lines.length, column: [...last].length + 1 };
}
