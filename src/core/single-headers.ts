/**
 * Header fields a request to an OACP listener (the gateway, the MCP bridge's `--http`) may carry
 * once only. Node keeps the first of each and drops the rest without a word, so a check reads
 * one value while a proxy in front (or a log) may act on another: two `Host` lines get past the
 * loopback host guard with the first while naming a foreign host in the second, and RFC 9112
 * §3.2 says a server MUST answer such a request 400. The credentials and the body's type are
 * as ambiguous twice, and refused the same way.
 */
export const SINGLE_HEADERS: readonly string[] = Object.freeze([
  'host',
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'content-type',
]);

/** The refusal's reason when `req` repeats a header of SINGLE_HEADERS, else undefined. */
export function repeatedHeader(req: { readonly rawHeaders: readonly string[] }): string | undefined {
  const seen = new Set<string>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    if (!SINGLE_HEADERS.includes(name)) continue;
    if (seen.has(name))
      return `the ${name} header is given more than once (RFC 9112 §3.2 for host): send it once`;
    seen.add(name);
  }
  return undefined;
}
