/** What a loose reader might ignore: whitespace, controls (Cc) and format characters (Cf: zero-width, bidi marks, BOM). */
const IGNORABLE = /[\s\p{Cc}\p{Cf}]/gu;

/**
 * A name as a lenient peer might read it: Unicode NFKC (full-width and
 * compatibility forms folded), ignorable characters dropped, case folded.
 * Two names that differ but read alike this way are one name to a server
 * that matches names loosely, so a check that matched only one of them
 * exactly would be bypassed by the other (`Tools/call `, `Delete_File`,
 * `delete_file` with a zero-width space).
 */
export function looseName(name: string): string {
  return name.normalize('NFKC').replace(IGNORABLE, '').toLowerCase();
}
