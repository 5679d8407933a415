import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { echoError, echoText } from '../core/redact.js';
import type { ApprovalDesk, ApprovalRequest } from './approval.js';

const DecisionBody = z.strictObject({ approve: z.boolean(), by: z.string().min(1).max(200) });

interface Waiting {
  readonly id: string;
  readonly request: ApprovalRequest;
  readonly since: string;
  settle(answer: { approved: boolean; by: string }): void;
}

/**
 * Approvals over HTTP for clients without elicitation: `GET <base>` lists the
 * calls waiting, `POST <base>/<id>` with `{"approve": true, "by": "alice"}`
 * decides one. Whoever can reach this endpoint can approve, so serve it only
 * where the bridge's HTTP listener is itself protected (loopback by default).
 */
export class HttpApprovalDesk implements ApprovalDesk {
  readonly method = 'http' as const;
  readonly #waiting = new Map<string, Waiting>();

  constructor(readonly base = '/oacp/approvals') {}

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
