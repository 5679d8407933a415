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
