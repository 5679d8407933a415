import { z } from 'zod';
import type { Manifest } from '../../capability/manifest.js';
import { decideTool } from '../../capability/name-policy.js';
import { NetworkPolicy } from '../../capability/network-policy.js';
import { describeError, OacpError } from '../../core/errors.js';
import { ANSWER_MAX, echoText } from '../../core/redact.js';
import type { QuotaLedger } from '../quota/ledger.js';
import type { GuestFetchRequest, HostBindings } from './host-bindings.js';
import { decodeFromGuest, encodeForGuest, type JsonLimits } from './json-boundary.js';
import type { Grants } from './prelude.js';

const ToolCall = z.strictObject({ name: z.string().min(1).max(256), args: z.unknown() });
const ContextGet = z.strictObject({ key: z.string().min(1).max(512) });
const ContextPut = z.strictObject({ key: z.string().min(1).max(512), value: z.unknown() });
const ModelsChat = z.strictObject({ request: z.record(z.string(), z.unknown()) });
const FetchCall = z.strictObject({
  url: z.string().max(8192),
  init: z
    .object({
      method: z
        .string()
        .regex(/^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/i, 'unsupported method')
        .optional(),
      headers: z
        .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'bad header name'), z.string())
        .optional(),
      body: z.string().optional(),
    })
    .loose(),
});
const FetchResult = z.object({
  status: z.number().int().min(100).max(599),
  statusText: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string(),
});

export interface BridgeCounters {
  egressRequests: number;
  egressDenied: number;
  toolCalls: number;
  denials: string[];
}

/**
 * The host side of every guest call: decode the guest's JSON, check the
 * manifest and the quotas, call the embedder's binding, encode the answer.
 * Refusals reject the guest's promise with a message saying what was refused
 * and why; they are also counted for receipts.
 */
export class HostBridge {
  private readonly network: NetworkPolicy;
  readonly counters: BridgeCounters = { egressRequests: 0, egressDenied: 0, toolCalls: 0, denials: [] };

  constructor(
    private readonly manifest: Manifest,
    private readonly bindings: HostBindings,
    private readonly ledger: QuotaLedger,
    private readonly limits: JsonLimits,
  ) {
    this.network = NetworkPolicy.from(manifest.capabilities.network);
  }

  grants(): Grants {
    return {
      tools: this.bindings.callTool !== undefined && this.manifest.capabilities.tools.allow.length > 0,
      contextGet: this.bindings.contextGet !== undefined,
      contextPut: this.bindings.contextPut !== undefined,
      fetch: this.bindings.fetch !== undefined && this.manifest.capabilities.network.allowlist.length > 0,
      models: this.bindings.modelsChat !== undefined && this.manifest.capabilities.models.allow.length > 0,
    };
  }

  /** Resolves with JSON text for the guest (or undefined); rejects with an OacpError the guest will see. */
  async call(kind: string, payloadText: string): Promise<string | undefined> {
    const grants = this.grants();
    const payload = decodeFromGuest(payloadText, this.limits, `${kind} arguments`);
    switch (kind) {
      case 'tool':
        if (!grants.tools) throw this.refuse('tool calls are not granted to this sandbox');
        return this.tool(ToolCall.parse(payload));
      case 'context.get': {
        const get = this.bindings.contextGet;
        if (!grants.contextGet || get === undefined) throw this.refuse('context reads are not granted');
        const { key } = ContextGet.parse(payload);
        return this.answer(await this.outbound(`context.get("${key}")`, () => get(key)), 'context value');
      }
      case 'context.put': {
        const put = this.bindings.contextPut;
        if (!grants.contextPut || put === undefined) throw this.refuse('context writes are not granted');
        const { key, value } = ContextPut.parse(payload);
        await this.outbound(`context.put("${key}")`, () => put(key, value));
        return undefined;
      }
      case 'models.chat': {
        const chat = this.bindings.modelsChat;
        if (!grants.models || chat === undefined)
          throw this.refuse('model calls are not granted to this sandbox');
        // The allowlist, Cedar, budgets and the receipt are the model gateway's: one pipeline for every caller.
        const { request } = ModelsChat.parse(payload);
        // A model call is an API call like a tool call: a guest cannot flood the gateway (and the log) with them.
        const quota = this.ledger.consume('api_calls_per_hour');
        if (quota.effect === 'deny') throw this.refuse(`oacp.models.chat refused: ${quota.reason}`);
        return this.answer(await this.outbound('oacp.models.chat', () => chat(request)), 'model answer');
      }
      case 'fetch':
        if (!grants.fetch) throw this.refuse('network access is not granted to this sandbox');
        return this.fetch(FetchCall.parse(payload));
      default:
        throw this.refuse(`unknown host function "${kind}"`);
    }
  }

  private async tool(call: z.infer<typeof ToolCall>): Promise<string | undefined> {
    const decision = decideTool(this.manifest.capabilities.tools, call.name);
    if (decision.effect === 'deny') throw this.refuse(`oacp.tools.call denied: ${decision.reason}`);
    const quota = this.ledger.consume('api_calls_per_hour');
    if (quota.effect === 'deny') throw this.refuse(`oacp.tools.call refused: ${quota.reason}`);
    const callTool = this.bindings.callTool;
    if (callTool === undefined) throw this.refuse('tool calls are not granted to this sandbox');
    this.counters.toolCalls += 1;
    const result = await this.outbound(`tool "${call.name}"`, () => callTool(call.name, call.args));
    return this.answer(result, `result of tool "${call.name}"`);
  }

  private async fetch(call: z.infer<typeof FetchCall>): Promise<string | undefined> {
    let url: URL;
    try {
      url = new URL(call.url);
    } catch {
      throw this.refuse(`fetch refused: "${call.url}" is not an absolute URL`, true);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw this.refuse(`fetch refused: only http and https URLs are allowed, not ${url.protocol}`, true);
    }
    if (url.username !== '' || url.password !== '') {
      throw this.refuse('fetch refused: URLs with embedded credentials are not allowed', true);
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const decision = this.network.decide({ host, port });
    if (decision.effect === 'deny')
      throw this.refuse(`fetch to ${url.origin} denied: ${decision.reason}`, true);
    const quota = this.ledger.consume('network_requests_per_min');
    if (quota.effect === 'deny') throw this.refuse(`fetch to ${url.origin} refused: ${quota.reason}`, true);
    const fetch = this.bindings.fetch;
    if (fetch === undefined) throw this.refuse('network access is not granted to this sandbox', true);
    const request: GuestFetchRequest = {
      url: url.href,
      method: (call.init.method ?? 'GET').toUpperCase(),
      headers: call.init.headers ?? {},
      ...(call.init.body === undefined ? {} : { body: call.init.body }),
    };
    this.counters.egressRequests += 1;
    const raw = await this.outbound(`fetch ${url.origin}`, () => fetch(request));
    const parsed = FetchResult.safeParse(raw);
    if (!parsed.success)
      throw new OacpError('WASM_BAD_VALUE', `fetch ${url.origin}: the host returned a malformed response`);
    return this.answer(
      {
        status: parsed.data.status,
        statusText: parsed.data.statusText ?? '',
        url: url.href,
        headers: parsed.data.headers ?? {},
        body: parsed.data.body,
      },
      `response from ${url.origin}`,
    );
  }

  private async outbound<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new OacpError(
        'WASM_GUEST_ERROR',
        echoText(`${what} failed: ${describeError(error)}`, ANSWER_MAX),
      );
    }
  }

  private answer(value: unknown, what: string): string | undefined {
    return value === undefined ? undefined : encodeForGuest(value, this.limits, what);
  }

  /** A refusal's reason may quote the guest's URL (credentials, a token in its query): redacted and cut. */
  private refuse(said: string, egress = false): OacpError {
    const reason = echoText(said, ANSWER_MAX);
    if (egress) this.counters.egressDenied += 1;
    this.counters.denials.push(reason);
    return new OacpError('WASM_GUEST_ERROR', reason);
  }
}
