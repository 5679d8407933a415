export const SECRET_MARK = '[REDACTED]';

/**
 * `text` with every occurrence of each secret replaced by [REDACTED], also in
 * the encodings a secret commonly leaks through: URL-encoded, JSON-escaped,
 * base64 and base64url. Longer secrets are replaced first so one secret that
 * contains another is not left half-visible. For the logger and receipts.
 */
export function redactSecrets(text: string, secretValues: Iterable<string>): string {
  const forms = new Set<string>();
  for (const value of secretValues) {
    if (value === '') continue;
    forms.add(value);
    forms.add(encodeURIComponent(value));
    forms.add(JSON.stringify(value).slice(1, -1));
    forms.add(Buffer.from(value, 'utf8').toString('base64').replace(/=+$/, ''));
    forms.add(Buffer.from(value, 'utf8').toString('base64url'));
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    if (form !== '') out = out.split(form).join(SECRET_MARK);
  }
  return out;
}
