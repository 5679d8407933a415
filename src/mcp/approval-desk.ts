import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { echoError, echoText } from '../core/redact.js';
import type { ApprovalDesk, ApprovalRequest } from './approval.js';
import { bearerCheck, newBearerToken } from './bearer-token.js';

const DecisionBody = z.strictObject({ approve: z.boolean(), by: z.string().min(1).max(200) });

interface Waiting {
  readonly id: string;
  readonly request: ApprovalRequest;
  readonly since: string;
  settle(answer: { approved: boolean; by: string }): void;
}

/** A fresh operator token for one desk: 32 random bytes, base64url. */
export function newDeskToken(): string {
  return newBearerToken();
}

/**
 * Approvals over HTTP: `GET <base>` lists the calls waiting, `POST <base>/<id>`
 * with `{"approve": true, "by": "alice"}` decides one. The endpoint shares the
 * bridge's listener with the MCP clients whose calls wait here, so it answers
 * only a request carrying the operator's token (`Authorization: Bearer
 * <token>`, compared in constant time): the party that asked never approves
 * its own call. `where` tells a refused caller where the operator finds the
 * token (never the token itself).
 */
export class HttpApprovalDesk implements ApprovalDesk {
  readonly method = 'http' as const;
  readonly #waiting = new Map<string, Waiting>();
  readonly #operator: (header: string | string[] | undefined) => boolean;

  constructor(
    token: string,
    readonly where = 'given to the operator at start',
    readonly base = '/oacp/approvals',
  ) {
    if (token.length < 32) throw new Error('an approval desk token must be at least 32 characters');
    this.#operator = bearerCheck(token);
  }

  decide(request: ApprovalRequest, signal: AbortSignal): Promise<{ approved: boolean; by: string }> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const done = () => this.#waiting.delete(id);
      signal.addEventListener(
        'abort',
        () => {
          done();
          reject(signal.reason);
        },
        { once: true },
      );
      this.#waiting.set(id, {
        id,
        request,
        since: new Date().toISOString(),
        settle: (answer) => {
          done();
          resolve(answer);
        },
      });
    });
  }

  pending(): { id: string; since: string; request: ApprovalRequest }[] {
    return [...this.#waiting.values()].map(({ id, since, request }) => ({ id, since, request }));
  }

  /** Answers the request if it is for this desk; returns false to let the caller route it elsewhere. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://bridge.invalid');
    if (url.pathname !== this.base && !url.pathname.startsWith(`${this.base}/`)) return false;
    if (!this.#operator(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="oacp-approvals"');
      reply(res, 401, {
        error: `approvals are decided by the operator only: send Authorization: Bearer <token>, the token ${this.where}; the MCP client that asked cannot approve its own call`,
      });
      req.resume();
      return true;
    }
    if (req.method === 'GET' && url.pathname === this.base) {
      reply(res, 200, { pending: this.pending() });
      return true;
    }
    const id = url.pathname.slice(this.base.length + 1);
    if (req.method !== 'POST' || id === '' || id.includes('/')) {
      reply(res, 405, { error: `use GET ${this.base} or POST ${this.base}/<id>` });
      return true;
    }
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) {
      reply(res, 404, { error: `no pending approval ${echoText(id)}` });
      return true;
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, 16_384));
    } catch (error) {
      // Not the parser's message: it quotes the body, which may hold a secret.
      reply(res, 400, {
        error: error instanceof SyntaxError ? 'body is not JSON' : `body refused: ${echoError(error)}`,
      });
      return true;
    }
    const parsed = DecisionBody.safeParse(body);
    if (!parsed.success) {
      reply(res, 400, { error: 'body must be {"approve": boolean, "by": "<who>"}' });
      return true;
    }
    waiting.settle({ approved: parsed.data.approve, by: parsed.data.by });
    reply(res, 200, { id, approved: parsed.data.approve });
    return true;
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
