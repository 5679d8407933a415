import { resolve } from 'node:path';
import { oneLine } from '../../core/terminal-text.js';

/** `.`, `..`, `./x`, `../x`: what a user types for "here", never a flag or a plain word. */
const RELATIVE_PATH = /^\.\.?(\/|$)/;

/**
 * The line that says a server argument like `.` or `./data` names a path in
 * the sandbox, not here: the hardened and gVisor tiers start every server in
 * a private working directory (/tmp, its own), so `server-filesystem .`
 * served an empty private directory instead of the user's project, silently.
 * Said once at start; the argument is passed unchanged (a server may mean its
 * own directory). Undefined when no argument is such a path.
 */
export function relativeArgumentsLine(
  server: string,
  args: readonly string[],
  cwd: string = process.cwd(),
): string | undefined {
  const relative = args.filter((arg) => RELATIVE_PATH.test(arg));
  if (relative.length === 0) return undefined;
  const named = relative.map((arg) => `"${oneLine(arg, 200)}" (here ${oneLine(resolve(cwd, arg), 200)})`);
  return `oacp: ${server}: argument ${named.join(', ')} names a path in the sandbox's own working directory (/tmp, private to it), not in ${oneLine(cwd, 200)}: pass the absolute path, granted with --allow-files PATH (:rw to write)`;
}
