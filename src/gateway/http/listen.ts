import {
  createServer as createHttpServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener, RequestError } from '@hono/node-server';
import { refuseConnect } from '../../core/connect-refusal.js';
import { capConnections, defaultMaxConnections } from '../../core/connection-cap.js';
import { continueOnRead, unmetExpectation } from '../../core/expect-continue.js';
import { countHeaders, tooManyHeaders } from '../../core/header-count.js';
import { inputFileFailure, readInputBytes } from '../../core/input-file.js';
import { isLoopbackAddress } from '../../core/loopback.js';
import { withLowerScheme } from '../../core/request-target.js';
import { repeatedHeader } from '../../core/single-headers.js';
import { SLOW_CLIENT_LIMITS } from '../../core/slow-clients.js';
import { DEFAULT_MAX_UNREAD_ANSWER_BYTES, UnreadAnswers } from '../../core/unread-answers.js';
import { httpError, toHttpFailure } from './errors.js';
import { listenerRefusal, type RefuseRequest, writeAnswer } from './listener-refusal.js';

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /** PEM files; with both, the gateway speaks HTTPS only. */
  readonly tls?:
    | {
        readonly cert: string;
        readonly key: string;
        /** A CA file: mutual TLS, every client must present a certificate it issued (cluster listener). */
        readonly clientCa?: string;
      }
    | {
        /** PEM content held in memory (a node's self-issued certificate; its key never touches disk). */
        readonly certPem: string;
        readonly keyPem: string;
        /**
         * Every client must present a certificate and prove its key in the handshake; which keys
         * are let in is the caller's check on the socket (pinned node keys, cluster listener).
         */
        readonly requirePeerCertificate: true;
      };
  /** Allow plain HTTP on a non-loopback address (a TLS-terminating proxy in front). */
  readonly insecure?: boolean;
  /** Connections held at once (`gateway.max_connections`); defaultMaxConnections() when absent. */
  readonly maxConnections?: number;
  /** Told when connections past the cap start being dropped (see capConnections). */
  readonly onDropping?: (dropped: number, max: number) => void;
  /** Bytes of answers held at once for clients that do not read them (64 MiB by default; core/unread-answers.ts). */
  readonly maxUnreadAnswerBytes?: number;
  /** Told of each answer cut because unread answers held more than that. */
  readonly onUnreadCut?: (bytes: number, limit: number) => void;
  /**
   * Answers the listener's own refusals (made before the app runs) in the protocol of the mount
   * the request was sent to (A2A: JSON-RPC errors); absent: the gateway's JSON error.
   */
  readonly refuseRequest?: RefuseRequest;
}

export interface Listening {
  readonly url: URL;
  readonly server: Server;
  /** Bytes of answers written that their clients have not read yet, over every connection. */
  heldAnswerBytes(): number;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then drops what is left. */
  close(graceMs?: number): Promise<void>;
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (match === null || !(port >= 0 && port <= 65_535)) {
    throw httpError(
      'GATEWAY_LISTEN_REFUSED',
      `--listen ${JSON.stringify(text)}: expected HOST:PORT, such as 127.0.0.1:8080`,
    );
  }
  const host = (match[1] ?? '').replace(/^\[|\]$/g, '');
  return { host: host === '' ? '127.0.0.1' : host, port };
}

/**
 * Serves `fetch` (a Hono app's) over HTTP or HTTPS. Plain HTTP is allowed only
 * on a loopback address unless `insecure` is set: API keys and signed
 * requests must not cross a network in the clear by accident.
 */
export async function listen(
  fetch: (request: Request, env: unknown) => Response | Promise<Response>,
  options: ListenOptions,
): Promise<Listening> {
  if (options.tls === undefined && !isLoopbackAddress(options.host) && options.insecure !== true) {
    throw httpError(
      'GATEWAY_LISTEN_REFUSED',
      `refusing to listen on ${options.host} without TLS: give --tls-cert and --tls-key, or --insecure if a TLS proxy fronts the gateway`,
    );
  }
  // The env ({incoming, outgoing}) lets the body limit read the Node request stream directly.
  // One per request, so that a request no URL can be built from (HTTP/1.0 without Host, `OPTIONS *`,
  // a backslash in the path), which never reaches the app, is refused knowing its path: typed as
  // every other refusal and in the protocol of the mount it was sent to, not a bare 400.
  const appFor = (req: IncomingMessage) =>
    getRequestListener((request, env) => fetch(request, env), {
      overrideGlobalObjects: false,
      errorHandler: (error) =>
        listenerRefusal(
          req,
          toHttpFailure(
            error instanceof RequestError
              ? httpError('BAD_REQUEST', `the request cannot be read: ${error.message}`)
              : error,
          ),
          options.refuseRequest,
        ),
    });
  const unread = new UnreadAnswers(
    options.maxUnreadAnswerBytes ?? DEFAULT_MAX_UNREAD_ANSWER_BYTES,
    options.onUnreadCut,
  );
  const listener: RequestListener = (req, res) => {
    unread.watch(res);
    if (req.url !== undefined) req.url = withLowerScheme(req.url);
    const tooMany = tooManyHeaders(req);
    const repeated = tooMany === undefined ? repeatedHeader(req) : undefined;
    const unmet = unmetExpectation(req.headers);
    if (tooMany === undefined && repeated === undefined && unmet === undefined)
      return void appFor(req)(req, res);
    // Refused before the app: nothing past the parser reads a request over the limit, one whose
    // host or credentials are ambiguous, or one that expects what no OACP route does.
    const failure = toHttpFailure(
      tooMany !== undefined
        ? httpError('HEADERS_TOO_LARGE', tooMany)
        : repeated !== undefined
          ? httpError('BAD_REQUEST', repeated)
          : httpError('EXPECTATION_FAILED', unmet ?? ''),
    );
    void writeAnswer(res, listenerRefusal(req, failure, options.refuseRequest));
  };
  let server: Server;
  if (options.tls !== undefined) {
    let cert: Buffer | string;
    let key: Buffer | string;
    let ca: Buffer | undefined;
    const tls = options.tls;
    try {
      if ('certPem' in tls) {
        cert = tls.certPem;
        key = tls.keyPem;
      } else {
        cert = readInputBytes(tls.cert);
        key = readInputBytes(tls.key);
        ca = tls.clientCa === undefined ? undefined : readInputBytes(tls.clientCa);
      }
    } catch (error) {
      throw httpError(
        'GATEWAY_TLS_INVALID',
        `cannot read the TLS certificate or key: ${inputFileFailure(error)}`,
      );
    }
    try {
      const mutual =
        ca !== undefined
          ? { ca, requestCert: true, rejectUnauthorized: true }
          : 'requirePeerCertificate' in tls
            ? // Self-issued certificates chain to nothing: the handshake still proves the key, and
              // the listener refuses any connection whose key is not a pinned member's.
              { requestCert: true, rejectUnauthorized: false }
            : {};
      server = createHttpsServer(
        { cert, key, minVersion: 'TLSv1.2', ...mutual, ...SLOW_CLIENT_LIMITS },
        listener,
      ) as unknown as Server;
    } catch (error) {
      // The key's content never goes into the message.
      throw httpError(
        'GATEWAY_TLS_INVALID',
        `the TLS certificate and key do not form a usable pair: ${(error as Error).message.split('\n')[0]}`,
      );
    }
  } else {
    server = createHttpServer(SLOW_CLIENT_LIMITS, listener);
  }
  countHeaders(server);
  refuseConnect(server);
  continueOnRead(server, listener);
  const maxConnections = options.maxConnections ?? defaultMaxConnections();
  capConnections(server, maxConnections, (dropped) => options.onDropping?.(dropped, maxConnections));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        httpError(
          'GATEWAY_LISTEN_FAILED',
          `cannot listen on ${options.host}:${options.port}: ${error.message}`,
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = new URL(`${options.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`);
  return {
    url,
    server,
    heldAnswerBytes: () => unread.held,
    close: async (graceMs = 2_000) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
