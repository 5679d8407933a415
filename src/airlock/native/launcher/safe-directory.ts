import { lstatSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';

const STICKY = 0o1000;

/**
 * `path`'s real path when no other user can change what it holds: it is ours
 * and closed to others, and every directory above it is root's or ours and
 * closed to others too, or sticky (/tmp: only an entry's owner may rename it,
 * and each entry below is checked to be root's or ours). Then a program found
 * there and checked once cannot be replaced before it is exec'd: only we (or
 * root) could. Undefined for anything else, and for any error on the way.
 */
export function safeDirectory(path: string): string | undefined {
  const me = process.getuid?.();
  if (me === undefined) return undefined;
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined;
  }
  const chain = [real];
  for (let at = real; at !== dirname(at); at = dirname(at)) chain.push(dirname(at));
  for (const [index, each] of chain.entries()) {
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(each);
    } catch {
      return undefined;
    }
    if (!stat.isDirectory()) return undefined;
    const closed = (stat.mode & 0o022) === 0;
    if (index === 0) {
      if (stat.uid !== me || !closed) return undefined;
    } else if ((stat.uid !== 0 && stat.uid !== me) || !(closed || (stat.mode & STICKY) !== 0))
      return undefined;
  }
  return real;
}
