/**
 * RFC 8785 canonical JSON of a value that came from JSON.parse (the log holds each
 * envelope in this form, so the leaf hash is recomputed from it). The Node side's
 * src/core/jcs.ts cannot load in a browser (node:crypto); this one handles only
 * parsed JSON, whose strings and numbers JSON.stringify already writes canonically.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    if (text === undefined) throw new Error('a value JSON cannot hold');
    return text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
  return `{${members.join(',')}}`;
}
