/**
 * Most header fields an HTTP request to an OACP listener (the gateway, the
 * MCP bridge's `--http`) may carry. Node's parser drops fields past its own
 * count silently; a request with more is refused with 431 instead, so no
 * field a check reads can be pushed out of view and a flood costs one answer.
 */
export const MAX_REQUEST_HEADERS = 200;

/** Lets the parser keep one field past the limit, so a request over it can be seen and refused. */
export function countHeaders(server: { maxHeadersCount: number | null }): void {
  server.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
}

/** The refusal's reason when `req` has more header fields than allowed, else undefined. */
export function tooManyHeaders(req: { readonly rawHeaders: readonly string[] }): string | undefined {
  return req.rawHeaders.length / 2 > MAX_REQUEST_HEADERS
    ? `more than ${MAX_REQUEST_HEADERS} header fields`
    : undefined;
}
