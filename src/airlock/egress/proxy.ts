import { chmodSync, chownSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Quotas } from '../../capability/manifest.js';
import { ANSWER_MAX, echoError, echoText } from '../../core/redact.js';
import { SLOW_CLIENT_LIMITS } from '../../core/slow-clients.js';
import { requestBudget } from '../quota/request-budget.js';
import { EgressAudit, type EgressEvent } from './audit.js';
import { checkEgress, type GateParts, type RequestLimiter } from './gate.js';
import { type Resolver, systemResolver } from './resolver.js';
import type { EgressRules } from './rules.js';
import { connectTarget, httpTarget } from './target.js';

export interface EgressProxyOptions {
  readonly rules: EgressRules;
  /** The sandbox's quotas; `network_requests_per_min` (with `burst`) limits requests. */
  readonly quotas: Quotas;
  readonly resolver?: Resolver;
  /** Replaces the quota ledger, e.g. to share one budget across sandboxes. */
  readonly limiter?: RequestLimiter;
  readonly onEvent?: (event: EgressEvent) => void;
  /** How long dialing an allowed address may take. */
  readonly connectTimeoutMs?: number;
}

const DENY_HEADER = 'x-oacp-egress-denied';

/** A refusal's reason may quote the workload's request (a target, an error): redacted and cut. */
function refusalHead(status: number, said: string): string {
  const reason = echoText(said, ANSWER_MAX);
  const title = status === 403 ? 'Forbidden' : status === 429 ? 'Too Many Requests' : 'Bad Gateway';
  const body = `${reason}\n`;
  return (
    `HTTP/1.1 ${status} ${title}\r\n${DENY_HEADER}: ${reason.replace(/[\r\n]/g, ' ')}\r\n` +
    `content-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/**
 * One sandbox's way out: an HTTP forward proxy (CONNECT tunnels and plain
 * absolute-form HTTP) listening on a Unix socket. Each request is checked by
 * `checkEgress` and dialed at the checked address; everything is recorded in
 * `audit`.
 */
export class EgressProxy {
  readonly audit: EgressAudit;
  private readonly gate: GateParts;
  private readonly server: Server;
  private readonly open = new Set<Duplex>();
  private path: string | undefined;

  constructor(private readonly options: EgressProxyOptions) {
    this.audit = new EgressAudit(options.onEvent);
    this.gate = {
      rules: options.rules,
      resolver: options.resolver ?? systemResolver,
      limiter: options.limiter ?? requestBudget(options.quotas),
      audit: this.audit,
    };
    // A workload dribbling its request headers holds a socket 10 s, not Node's 60 s swept every 30 s.
    this.server = createServer(SLOW_CLIENT_LIMITS, (req, res) => void this.forward(req, res));
    this.server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.tunnel(req, socket, head);
    });
    this.server.on('connection', (socket: Socket) => this.track(socket));
  }

  /** Listens on `path`; `owner` lets a sandbox running as another uid connect. */
  async listen(path: string, owner?: { uid: number; gid: number }): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => resolve());
    });
    this.path = path;
    if (owner !== undefined) chownSync(path, owner.uid, owner.gid);
    chmodSync(path, 0o600);
  }

  async close(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.path !== undefined) rmSync(this.path, { force: true });
  }

  private track(socket: Duplex): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
  }

  private async tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const target = connectTarget(req.url ?? '');
    if (target === undefined) {
      client.end(refusalHead(403, `CONNECT target "${echoText(req.url ?? '')}" is not host:port`));
      return;
    }
    const result = await checkEgress(this.gate, 'CONNECT', target);
    if (result.effect === 'deny') {
      client.end(refusalHead(result.status, result.decision.reason));
      return;
    }
    const upstream = this.dial(result.address, target.port);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once('error', (error) => {
      if (!client.destroyed)
        client.end(refusalHead(502, `cannot reach ${result.address}: ${echoError(error)}`));
    });
    client.once('close', () => upstream.destroy());
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const target = httpTarget(req.url ?? '');
    if (target === undefined) {
      res.writeHead(403, { [DENY_HEADER]: 'only absolute http:// URLs are proxied' }).end();
      return;
    }
    const result = await checkEgress(this.gate, method, target);
    if (result.effect === 'deny') {
      const reason = echoText(result.decision.reason, ANSWER_MAX);
      res.writeHead(result.status, { [DENY_HEADER]: reason.replace(/[\r\n]/g, ' ') }).end(`${reason}\n`);
      return;
    }
    const url = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = request({
      host: result.address,
      port: target.port,
      method,
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, host: url.host },
      setHost: false,
      agent: false,
      timeout: this.options.connectTimeoutMs ?? 10_000,
    });
    upstream.on('response', (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { [DENY_HEADER]: `cannot reach ${result.address}` });
      res.end(`${echoError(error)}\n`);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('connect timed out')));
    req.pipe(upstream);
  }

  private dial(address: string, port: number): Socket {
    const socket = connect({ host: address, port, timeout: this.options.connectTimeoutMs ?? 10_000 });
    socket.once('timeout', () => socket.destroy(new Error('connect timed out')));
    socket.once('connect', () => socket.setTimeout(0));
    this.track(socket);
    return socket;
  }
}
