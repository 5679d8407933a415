import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerCheck } from './bearer-token.js';

/**
 * Who may use the bridge's MCP endpoints (`/mcp`, `/sse`, `/messages`, receipts): a client
 * sending `Authorization: Bearer <token>`, or, with `'none'` (`--http-auth none`, loopback
 * only), every process that reaches the port, of any account on the machine.
 */
export type HttpClientAuth = { readonly token: string } | 'none';

/** Why an unauthenticated request was refused, for the operator's log. */
export type Unauthenticated = 'no Authorization header' | 'a wrong or malformed token';

/** The realm of the bridge's challenge; the approval desk has its own (`oacp-approvals`). */
const REALM = 'oacp-mcp';

/**
 * The bridge's client check, made on a request's headers before anything else of it is
 * read: `true` lets it on; `false` means a 401 with `WWW-Authenticate: Bearer` was
 * written and the connection closes, its body never read, no session made, no server
 * started. MCP's authorization (OAuth 2.1) has the client find an authorization server
 * through the resource metadata a 401 names; a local bridge has none, its token is
 * static, so the challenge is RFC 6750's alone (`realm`, and `error="invalid_token"`
 * when a token was sent). `onRefused` counts and logs it (bounded: client-refusal-log.ts);
 * no receipt is written, as nothing was read or executed.
 */
export function clientGate(
  auth: HttpClientAuth,
  onRefused?: (req: IncomingMessage, why: Unauthenticated) => void,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (auth === 'none') return () => true;
  const matches = bearerCheck(auth.token);
  return (req, res) => {
    const header = req.headers.authorization;
    if (matches(header)) return true;
    const why: Unauthenticated =
      header === undefined ? 'no Authorization header' : 'a wrong or malformed token';
    const challenge =
      header === undefined ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`;
    const message = `Unauthorized: this bridge needs Authorization: Bearer <token>, the token its operator was given (the file named in its startup line, or --http-token-file)`;
    res
      .writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': challenge,
        connection: 'close',
      })
      .end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message } }));
    onRefused?.(req, why);
    return false;
  };
}
