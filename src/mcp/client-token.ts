import { join, resolve } from 'node:path';
import { newBearerToken } from './bearer-token.js';
import type { HttpBridgeRecord } from './http-bridge-record.js';
import type { HttpClientAuth } from './http-client-auth.js';
import type { McpRunOptions } from './options.js';
import { readTokenFile, writeTokenFile } from './token-file.js';

/** Where a bridge writes the client token it made: `<home>/mcp-http-clients/` (0700). */
export function clientTokenDir(home: string): string {
  return join(home, 'mcp-http-clients');
}

/** The client authentication of an `--http` bridge, and what the operator is told of it. */
export interface ClientToken {
  readonly auth: HttpClientAuth;
  /** What `oacp doctor` is told of it (http-bridge-record.ts): never the token. */
  readonly record: Pick<HttpBridgeRecord, 'auth' | 'token'>;
  /** The startup line saying what a client must send (never the token itself). */
  readonly line: string;
  /** Removes a token file the bridge wrote (not the operator's). */
  remove(): void;
}

/**
 * `--http-auth none`: no token, said plainly. `--http-token-file FILE`: the operator's
 * token, read once (token-file.ts). Neither: a fresh 32-byte token written 0600 in the
 * home, its path (never the token) told once, the file removed when the bridge ends.
 * `pin` adds the token to the values OACP masks wherever it writes text.
 */
export function clientToken(home: string, options: McpRunOptions, pin: (token: string) => void): ClientToken {
  if (options.httpAuth === 'none') {
    return {
      auth: 'none',
      record: { auth: 'none' },
      line: 'oacp: warning: --http-auth none: the bridge is open to every local user: any process on this machine, of any account, can start sessions and call its tools with the grants given here',
      remove: () => undefined,
    };
  }
  if (options.httpTokenFile !== undefined) {
    const token = readTokenFile(options.httpTokenFile, '--http-token-file');
    pin(token);
    return {
      auth: { token },
      record: { auth: 'bearer', token: { source: 'operator', file: resolve(options.httpTokenFile) } },
      line: `oacp: MCP clients need Authorization: Bearer <the token in ${options.httpTokenFile}>`,
      remove: () => undefined,
    };
  }
  const token = newBearerToken();
  pin(token);
  const file = writeTokenFile(clientTokenDir(home), token);
  return {
    auth: { token },
    record: { auth: 'bearer', token: { source: 'generated', file: file.path } },
    line: `oacp: MCP clients need Authorization: Bearer $(cat ${file.path}) (0600, written when this bridge started; --http-token-file names your own)`,
    remove: file.remove,
  };
}
