import { z } from 'zod';
import { readCappedBody } from '../core/capped-body.js';
import type { Signer } from '../core/ed25519.js';
import {
  type AgentView,
  AgentViewSchema,
  type CallToolRequest,
  type CreateAgentRequest,
  ErrorBodySchema,
  type MigrationResponse,
  MigrationResponseSchema,
  QuotaUsageSchema,
  type QuotaUsageView,
  type ReceiptResponse,
  ReceiptResponseSchema,
  type RunAgentRequest,
  type RunResponse,
  RunResponseSchema,
  SIGNED_REQUEST_HEADER,
  type ToolCallResponse,
  ToolCallResponseSchema,
  type ToolView,
  ToolViewSchema,
  type Transition,
} from '../gateway/http/api-schemas.js';
import { signRequest } from '../identity/signed-request.js';
import { type OfflineVerification, OfflineVerifier } from '../verify/offline-verifier.js';
import { OacpApiError } from './errors.js';

export interface OacpClientOptions {
  /** The gateway's base URL, e.g. https://gateway.internal:8443. */
  readonly baseUrl: string | URL;
  /** An API key (`oacp_…`), sent as a bearer token. */
  readonly apiKey?: string;
  /** Or act as an agent: every request is signed with its key (replay-protected). */
  readonly agentSigner?: Signer;
  /** A fetch implementation (default: the global one). */
  readonly fetch?: typeof fetch;
  /** Sent as `traceparent`, to continue a caller's trace. */
  readonly traceparent?: () => string | undefined;
  /** The most an answer's body may hold before the client stops reading it (default 32 MiB). */
  readonly maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export interface VerifyOptions {
  /** The Airlock keys receipts may be signed by (raw 32-byte Ed25519), obtained out of band. */
  readonly airlockKeys: readonly Uint8Array[];
  /** The log's verifier key, obtained out of band; without it the key the gateway names is used (weaker). */
  readonly logKey?: string;
  readonly expectedAgentDid?: string;
}

const AgentList = z.object({ agents: z.array(AgentViewSchema) });
const ToolList = z.object({ tools: z.array(ToolViewSchema) });
const ContextBody = z.object({ key: z.string(), value: z.unknown() });
const Health = z.object({
  status: z.string(),
  origin: z.string(),
  logSize: z.number(),
  agentsRunning: z.number(),
});

/**
 * The typed client of the gateway's HTTP API (`oacp/client`): agents, tools,
 * context and receipts, with offline verification of receipts by the same
 * verifier `oacp verify` uses. Errors are OacpApiError with the gateway's code.
 */
/** Filters of `listReceipts`, as `oacp log list` takes them. */
export interface ReceiptFilter {
  /** An ISO time, or a duration back from now: 30s, 15m, 2h, 7d. */
  readonly since?: string;
  readonly tool?: string;
  /** The caller as recorded: a did:key or a client id. */
  readonly agent?: string;
  readonly decision?: 'allow' | 'deny';
  readonly before?: number;
  readonly limit?: number;
}

const ReceiptEntrySchema = z.object({
  index: z.number().int().nonnegative(),
  kind: z.enum(['tool-call', 'execution', 'unreadable']),
  time: z.string().optional(),
  caller: z.string().optional(),
  server: z.string().optional(),
  tool: z.string().optional(),
  decision: z.enum(['allow', 'deny']).optional(),
  reason: z.string().optional(),
  policyId: z.string().optional(),
  tier: z.string().optional(),
  durationMs: z.number().optional(),
  verified: z.boolean(),
  verification: z.string(),
});
const ReceiptPageSchema = z.object({
  entries: z.array(ReceiptEntrySchema),
  next: z.number().int().nonnegative().optional(),
  logSize: z.number().int().nonnegative(),
});
export type ReceiptPage = z.output<typeof ReceiptPageSchema>;
export type ReceiptEntry = z.output<typeof ReceiptEntrySchema>;

export class OacpClient {
  private readonly base: URL;
  private readonly fetchImpl: typeof fetch;
  private readonly maxResponseBytes: number;

  constructor(private readonly options: OacpClientOptions) {
    this.base = new URL(options.baseUrl);
    this.fetchImpl = options.fetch ?? fetch;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    if (!Number.isInteger(this.maxResponseBytes) || this.maxResponseBytes <= 0)
      throw new RangeError('maxResponseBytes must be a whole number of bytes above 0');
  }

  health() {
    return this.request('GET', '/healthz', undefined, Health);
  }

  createAgent(request: CreateAgentRequest): Promise<AgentView> {
    return this.request('POST', '/v1/agents', request, AgentViewSchema);
  }

  async listAgents(): Promise<AgentView[]> {
    return (await this.request('GET', '/v1/agents', undefined, AgentList)).agents;
  }

  getAgent(ref: string): Promise<AgentView> {
    return this.request('GET', `/v1/agents/${encodeURIComponent(ref)}`, undefined, AgentViewSchema);
  }

  transition(ref: string, transition: Transition): Promise<AgentView> {
    return this.request('POST', `/v1/agents/${encodeURIComponent(ref)}/${transition}`, {}, AgentViewSchema);
  }

  startAgent(ref: string): Promise<AgentView> {
    return this.transition(ref, 'start');
  }

  suspendAgent(ref: string): Promise<AgentView> {
    return this.transition(ref, 'suspend');
  }

  resumeAgent(ref: string): Promise<AgentView> {
    return this.transition(ref, 'resume');
  }

  retireAgent(ref: string): Promise<AgentView> {
    return this.transition(ref, 'retire');
  }

  runAgent(ref: string, request: RunAgentRequest = {}): Promise<RunResponse> {
    return this.request('POST', `/v1/agents/${encodeURIComponent(ref)}/run`, request, RunResponseSchema);
  }

  /** Moves a running agent to another cluster node with its state (docs/cluster.md, Migration). */
  migrateAgent(ref: string, to: string): Promise<MigrationResponse> {
    return this.request(
      'POST',
      `/v1/agents/${encodeURIComponent(ref)}/migrate`,
      { to },
      MigrationResponseSchema,
    );
  }

  quota(ref: string): Promise<QuotaUsageView> {
    return this.request('GET', `/v1/agents/${encodeURIComponent(ref)}/quota`, undefined, QuotaUsageSchema);
  }

  async listTools(): Promise<ToolView[]> {
    return (await this.request('GET', '/v1/tools', undefined, ToolList)).tools;
  }

  callTool(name: string, args: unknown, options: { agent?: string } = {}): Promise<ToolCallResponse> {
    const body: CallToolRequest = {
      arguments: args,
      ...(options.agent === undefined ? {} : { agent: options.agent }),
    };
    return this.request('POST', `/v1/tools/${encodeURIComponent(name)}/call`, body, ToolCallResponseSchema);
  }

  async getContext(ref: string, key: string): Promise<unknown> {
    const path = `/v1/agents/${encodeURIComponent(ref)}/context/${encodeURIComponent(key)}`;
    return (await this.request('GET', path, undefined, ContextBody)).value;
  }

  async putContext(ref: string, key: string, value: unknown): Promise<void> {
    const path = `/v1/agents/${encodeURIComponent(ref)}/context/${encodeURIComponent(key)}`;
    await this.request('PUT', path, { value }, ContextBody);
  }

  receipt(index: number): Promise<ReceiptResponse> {
    return this.request('GET', `/v1/receipts/${index}`, undefined, ReceiptResponseSchema);
  }

  /**
   * The audit view (`GET /v1/receipts`, scope audit:read): receipts newest first, decoded and
   * verified by the gateway, filtered like `oacp log list`. Pass `next` as `before` for the next page.
   */
  listReceipts(filter: ReceiptFilter = {}): Promise<ReceiptPage> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(filter))
      if (value !== undefined) query.set(name, String(value));
    const search = query.size > 0 ? `?${query.toString()}` : '';
    return this.request('GET', `/v1/receipts${search}`, undefined, ReceiptPageSchema);
  }

  async checkpoint(): Promise<string> {
    const response = await this.send('GET', '/v1/log/checkpoint', undefined);
    return this.text(response, 'GET', '/v1/log/checkpoint');
  }

  async metrics(): Promise<string> {
    const response = await this.send('GET', '/metrics', undefined);
    return this.text(response, 'GET', '/metrics');
  }

  /**
   * Fetches receipt `index` with its inclusion proof and verifies both offline:
   * signatures against `airlockKeys`, the checkpoint against the log key, and
   * inclusion of this exact receipt. Trust comes from the keys you pass, not
   * from the gateway's answer.
   */
  async verifyReceipt(index: number, options: VerifyOptions): Promise<OfflineVerification> {
    const fetched = await this.receipt(index);
    const verifier = new OfflineVerifier({
      airlockKeys: options.airlockKeys,
      logKey: options.logKey ?? fetched.logKey,
      ...(options.expectedAgentDid === undefined ? {} : { expectedAgentDid: options.expectedAgentDid }),
    });
    return verifier.verify(JSON.stringify(fetched.envelope), fetched.proof);
  }

  /** The answer's body as text, read no further than maxResponseBytes: a peer can stream without end. */
  private async text(response: Response, method: string, path: string): Promise<string> {
    const body = await readCappedBody(response.body, this.maxResponseBytes).catch(() => {
      throw new OacpApiError(
        response.status,
        'CLIENT_UNREACHABLE',
        `${method} ${path}: the answer broke off`,
      );
    });
    if (body === undefined) {
      throw new OacpApiError(
        response.status,
        'CLIENT_RESPONSE_TOO_LARGE',
        `${method} ${path} answered more than ${this.maxResponseBytes} bytes (the client's maxResponseBytes)`,
      );
    }
    return body.toString('utf8');
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    body: unknown,
    schema: S,
  ): Promise<z.output<S>> {
    const response = await this.send(method, path, body);
    const parsed = schema.safeParse(parseOrUndefined(await this.text(response, method, path)));
    if (!parsed.success) {
      throw new OacpApiError(
        response.status,
        'CLIENT_BAD_RESPONSE',
        `unexpected answer from ${method} ${path}`,
      );
    }
    return parsed.data;
  }

  private async send(method: string, path: string, body: unknown): Promise<Response> {
    const url = new URL(path, this.base);
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.apiKey !== undefined) headers.authorization = `Bearer ${this.options.apiKey}`;
    if (this.options.agentSigner !== undefined) {
      const signed = signRequest(this.options.agentSigner, {
        purpose: `${method} ${url.pathname}${url.search}`,
        payload: text,
      });
      headers[SIGNED_REQUEST_HEADER] = Buffer.from(JSON.stringify(signed), 'utf8').toString('base64url');
    }
    const traceparent = this.options.traceparent?.();
    if (traceparent !== undefined) headers.traceparent = traceparent;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: text }),
      });
    } catch (error) {
      throw new OacpApiError(
        0,
        'CLIENT_UNREACHABLE',
        `cannot reach ${this.base.origin}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (response.ok) return response;
    const failure = ErrorBodySchema.safeParse(parseOrUndefined(await this.text(response, method, path)));
    const retry = response.headers.get('retry-after');
    if (!failure.success) {
      throw new OacpApiError(
        response.status,
        'CLIENT_BAD_RESPONSE',
        `${method} ${path} answered ${response.status}`,
      );
    }
    const { code, message, quota, receipt } = failure.data.error;
    throw new OacpApiError(
      response.status,
      code,
      message,
      quota,
      receipt,
      retry === null ? undefined : Number(retry),
    );
  }
}

/** JSON.parse, or undefined for text that is not JSON (the schema check then names the answer). */
function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
