import { createHash } from 'node:crypto';

/**
 * At most `max` UTF-16 units of `text`, never ending in half a surrogate pair:
 * for text a workload chose (an error it threw, a reason) that goes into a
 * receipt, an answer or the operator's terminal.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * A name someone else chose (a client's, a tool's, a model's) as a receipt can hold it: as given
 * up to `max` UTF-16 units, else its first `keep` units (whole code points), `…` and 16 hex digits
 * of the whole name's sha256, so long names still tell apart. A receipt must fit the log's
 * 65,535-byte entries; one that cannot could only fail after the call had run.
 */
export function boundedName(name: string, max: number, keep = max - 24): string {
  if (name.length <= max) return name;
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 16);
  return `${clipText(name, keep)}…sha256:${digest}`;
}
