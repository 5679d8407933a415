import { randomUUID } from 'node:crypto';
import { A2A_VERSION_HEADER, AgentCard, Extensions, HTTP_EXTENSION_HEADER } from '@a2a-js/sdk';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import type { TaskStore } from '@a2a-js/sdk/server';
import {
  JsonRpcTransportHandler,
  ServerCallContext,
  UnauthenticatedUser,
  type User,
  validateVersion,
} from '@a2a-js/sdk/server';
import { type Context, Hono } from 'hono';
import {
  DEFAULT_REFUSAL_RECEIPT_LIMITS,
  RefusalReceiptLimiter,
  type RefusalReceiptLimits,
  type SuppressedRefusals,
} from '../airlock/quota/refusal-limit.js';
import { peerAddressOf } from '../core/peer-address.js';
import { echoText } from '../core/redact.js';
import type { NonceStore } from '../identity/nonce-store.js';
import type { A2aAgent, A2aAgentDirectory, A2aExecutor, A2aSecurityEvent } from './agent.js';
import { A2A_PREFIX, type A2aNodeInfo, buildAgentCard, DEFAULT_RECEIPTS_PATH } from './agent-card.js';
import { AgentEndpoint } from './agent-endpoint.js';
import { signAgentCard } from './card-signature.js';
import { clientSource } from './client-source.js';
import { directoryCard } from './directory-card.js';
import { a2aError } from './errors.js';
import { type HttpRefusal, refusalAnswer } from './http-refusal.js';
import {
  type InboundChecks,
  type InboundReceipts,
  suppressedRefusalsRecord,
  unreadRefusalRecord,
} from './inbound-calls.js';
import { SOURCE_STATE } from './inbound-gate.js';
import { OACP_JSONRPC_CODES } from './jsonrpc-errors.js';
import { echoRpcAnswer, echoRpcError, idOf, isAsyncIterable, rpcError, sse } from './jsonrpc-response.js';
import { checkRequest, type Dialect, METHOD_NOT_FOUND, PARSE_ERROR } from './request-schema.js';
import type { TrustGraph } from './trust-graph.js';

export interface A2aServerOptions {
  readonly agents: A2aAgentDirectory;
  readonly executor: A2aExecutor;
  readonly trust: TrustGraph;
  /** Replay cache for message signatures (the gateway's SQLite one survives restarts). */
  readonly nonces: NonceStore;
  readonly node: A2aNodeInfo;
  /** The base URL to put in cards; each request's origin when it returns undefined. */
  readonly publicUrl?: () => string | undefined;
  /** Refuse unsigned messages (default true). Off only for a node that serves anonymous callers on purpose. */
  readonly signedMessagesRequired?: boolean;
  /**
   * Who sends a request, as the embedding server authenticated it (an API key,
   * a session): the SDK's `User`, as its own adapters' `userBuilder` gives it.
   * A task made by an unsigned message is bound to this caller's `userName`
   * (stored with the task, so an identifier, never a secret): only the same
   * authenticated caller reads, watches, cancels or continues it. Without it
   * (or for an unauthenticated caller) such a task is readable by nobody after
   * the answer to the message that made it. A builder that throws refuses the
   * request.
   */
  readonly user?: (request: Request) => User | Promise<User>;
  readonly onSecurityEvent?: (event: A2aSecurityEvent) => void;
  /** Where refused messages are recorded, one receipt each (the node's log). */
  readonly receipts?: InboundReceipts;
  /**
   * How many refusals of unauthenticated input (anyone can cause those) get a receipt of
   * their own, per client address and overall (DEFAULT_REFUSAL_RECEIPT_LIMITS when absent);
   * past them a refusal is answered the same and summed up in one receipt per agent and
   * window (docs/receipts.md). An authenticated caller's refusals are always receipted.
   */
  readonly refusalReceipts?: RefusalReceiptLimits;
  /** The node's global policies and quotas on inbound messages. */
  readonly checks?: InboundChecks;
  /**
   * Where each agent's tasks live (the shared store in a cluster); in memory when absent. When
   * given, a task read (`GetTask`, `tasks/get`) is answered here from it, never forwarded.
   */
  readonly taskStore?: (agent: A2aAgent) => TaskStore;
  /**
   * In a cluster: the answer of the node that runs the agent, when that is another node
   * (undefined: answer here). Every method but a task read from `taskStore` goes there, so the
   * node doing the work checks the signature, records the receipt, and holds the running task a
   * cancel must reach.
   */
  readonly forward?: (agent: A2aAgent, request: Request, body: string) => Promise<Response | undefined>;
  /**
   * In a cluster: whether this request was relayed by another member (the gateway's forwarded
   * header). Only then does the base URL the caller used at that member (RELAYED_BASE_HEADER)
   * replace this request's own origin in the card and receipt URLs.
   */
  readonly relayed?: (request: Request) => boolean;
  /**
   * What the embedding server answers for an error thrown while this server handled a
   * `POST /a2a/<agent>` outside the JSON-RPC layer (`forward` failing: the owner unreachable, the
   * agent between nodes): its status, code and caller-facing words, answered as a JSON-RPC error
   * with the request's id (refusalAnswer). Absent: a 500, `-32603`.
   */
  readonly failure?: (error: unknown) => HttpRefusal;
  readonly now?: () => number;
}

/** A failure the embedding server did not describe (A2aServerOptions.failure). */
const INTERNAL_FAILURE: HttpRefusal = { status: 500, code: 'INTERNAL', message: 'internal error' };

const CALLER_UNIDENTIFIED = 'OACP_CALLER_UNIDENTIFIED: the caller could not be identified; nothing was done';

/** The JSON-RPC methods that send a message, in both dialects. */
const MESSAGE_METHODS: ReadonlySet<string> = new Set([
  'SendMessage',
  'SendStreamingMessage',
  'message/send',
  'message/stream',
]);

/** The base URL a caller reached the relaying member at: the owner builds its card on it. */
export const RELAYED_BASE_HEADER = 'x-oacp-a2a-base';

export interface A2aServer {
  /** Routes: GET /.well-known/agent-card.json, GET /a2a/:agent/.well-known/agent-card.json, POST /a2a/:agent. */
  readonly app: Hono;
  /** `env` is the HTTP server's (@hono/node-server's, with the client's socket), passed on to the routes. */
  readonly fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  /**
   * The answer to a message whose body the embedding server refused unread for its size or
   * nesting (the gateway's body limits): the pipeline's shape refusal, `-32046 OACP_MESSAGE_LIMITS`,
   * a security event and one receipt, as for any refused message (within the refusal receipt
   * limits; `env` is the HTTP server's, for the client address). Undefined when the request
   * is not a message to an agent served here (the embedding server answers it then).
   */
  readonly refuseUnread: (request: Request, reason: string, env?: unknown) => Promise<Response | undefined>;
  /**
   * The embedding server's own refusal of a `POST /a2a/<agent>` before this server saw it (its
   * Host guard, its body limits for an agent not served here) as the JSON-RPC error an A2A client
   * reads, id null (the body was not read); undefined for any other request.
   */
  readonly refuseRequest: (request: Request, refusal: HttpRefusal) => Response | undefined;
  /** Records the refusals counted but not yet summed up (on shutdown, before the log closes). */
  readonly flushRefusals: () => Promise<void>;
}

/**
 * OACP agents as A2A agents: a signed card and a JSON-RPC endpoint per agent
 * (v1.0 and v0.3 method names), served by the official SDK's request handler
 * and transport handlers under a thin Hono adapter, so the gateway can mount
 * it beside its own routes.
 */
export function createA2aServer(options: A2aServerOptions): A2aServer {
  const endpoints = new Map<string, AgentEndpoint>();
  const signedMessagesRequired = options.signedMessagesRequired ?? true;
  const cards = new Map<string, AgentCard>();
  const security = (event: A2aSecurityEvent) => {
    try {
      options.onSecurityEvent?.(event);
    } catch {
      // The refusal stands whatever the audit sink does.
    }
  };
  const summarize = async (summary: SuppressedRefusals<A2aAgent>): Promise<void> => {
    const sources = summary.top.map(({ source, count }) => `${source} (${count})`).join(', ');
    security({
      type: 'refusals_suppressed',
      agent: summary.agent.name,
      reason: `${summary.count} unauthenticated refusals from ${summary.sources} source(s) answered without a receipt of their own: ${sources}`,
    });
    await options.receipts?.record(suppressedRefusalsRecord(summary.agent, randomUUID(), summary));
  };
  const refusalLimiter =
    options.receipts === undefined
      ? undefined
      : new RefusalReceiptLimiter<A2aAgent>(
          options.refusalReceipts ?? DEFAULT_REFUSAL_RECEIPT_LIMITS,
          summarize,
          options.now,
        );

  const baseOf = (request: Request): string =>
    options.publicUrl?.() ??
    (options.relayed?.(request) === true ? relayedBase(request) : undefined) ??
    new URL(request.url).origin;
  // The owner answers with the base the caller used here, so the card's URLs stay the caller's.
  const relay = (agent: A2aAgent, request: Request, body: string, base: string) =>
    options.forward?.(agent, withHeader(request, RELAYED_BASE_HEADER, base), body);
  const signedCard = (agent: A2aAgent, base: string): AgentCard => {
    const key = `${agent.did} ${base} ${agent.manifestDigest}`;
    let card = cards.get(key);
    if (card === undefined) {
      card = signAgentCard(buildAgentCard(agent, options.node, base, signedMessagesRequired), agent.signer);
      if (cards.size >= 256) cards.clear();
      cards.set(key, card);
    }
    return card;
  };
  const localNameOf = async (did: string) =>
    options.agents.localName === undefined
      ? (await options.agents.list()).find((agent) => agent.did === did)?.name
      : options.agents.localName(did);
  const endpointOf = (agent: A2aAgent, base: string): AgentEndpoint => {
    const existing = endpoints.get(agent.name);
    if (existing !== undefined && existing.agent.did === agent.did) return existing;
    const endpoint = new AgentEndpoint(
      agent,
      signedCard(agent, base),
      {
        origin: options.node.logOrigin,
        urlTemplate: `${base}${options.node.receiptsPath ?? DEFAULT_RECEIPTS_PATH}`,
      },
      {
        executor: options.executor,
        trust: options.trust,
        nonces: options.nonces,
        signedMessagesRequired,
        localNameOf,
        ...(options.onSecurityEvent === undefined ? {} : { onSecurityEvent: options.onSecurityEvent }),
        ...(options.receipts === undefined ? {} : { receipts: options.receipts }),
        ...(options.checks === undefined ? {} : { checks: options.checks }),
        ...(refusalLimiter === undefined ? {} : { refusalLimiter }),
        ...(options.now === undefined ? {} : { now: options.now }),
        ...(options.taskStore === undefined ? {} : { taskStore: options.taskStore }),
      },
    );
    endpoints.set(agent.name, endpoint);
    return endpoint;
  };

  const app = new Hono();

  app.get('/.well-known/agent-card.json', async (c) => {
    const base = baseOf(c.req.raw);
    const agents = await options.agents.list();
    return c.json(directoryCard(options.node, base, agents), 200, { 'cache-control': 'no-cache' });
  });

  app.get(`${A2A_PREFIX}/:agent/.well-known/agent-card.json`, async (c) => {
    const agent = await options.agents.get(c.req.param('agent'));
    // Thrown, so the listener's one error map answers it: typed, its echo of the name redacted.
    if (agent === undefined)
      throw a2aError('A2A_AGENT_UNKNOWN', `no A2A agent named ${echoText(c.req.param('agent'))}`);
    const base = baseOf(c.req.raw);
    // In a cluster the card comes from the node that runs the agent: it names that node's log,
    // where the results' receipts are, signed by the agent as any card is.
    const relayed = await relay(agent, c.req.raw, '', base);
    if (relayed !== undefined) return relayed;
    const card = signedCard(agent, base);
    // The SDK's ProtoJSON form: what the signature's canonical form is made from.
    return c.json(AgentCard.toJSON(card) as Record<string, unknown>, 200, { 'cache-control': 'no-cache' });
  });

  app.post(`${A2A_PREFIX}/:agent`, async (c) => {
    const text = await c.req.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return c.json(rpcError(null, PARSE_ERROR, 'the request body is not JSON'));
    }
    try {
      return await answer(c, text, body);
    } catch (error) {
      // Every answer on a JSON-RPC endpoint is a JSON-RPC response, a relay's failure included.
      return refusalAnswer(idOf(body), options.failure?.(error) ?? INTERNAL_FAILURE);
    }
  });

  /** The JSON-RPC answer to a parsed `POST /a2a/<name>` (relayed to the agent's node in a cluster). */
  async function answer(c: Context, text: string, body: unknown): Promise<Response> {
    const version = c.req.header(A2A_VERSION_HEADER) || '0.3';
    const dialect: Dialect = version === '0.3' ? 'v0.3' : 'v1';
    const name = c.req.param('agent') ?? '';
    const agent = await options.agents.get(name);
    if (agent === undefined) {
      return c.json(rpcError(idOf(body), METHOD_NOT_FOUND, `no A2A agent named ${echoText(name)}`), 404);
    }
    const base = baseOf(c.req.raw);
    // A task read is answered from the task store, which in a cluster every node shares (the
    // owner would read the same row): never relayed, so it never waits while the agent is
    // between nodes. Everything else goes to the node that runs the agent.
    const relayed = readsTask(body, options) ? undefined : await relay(agent, c.req.raw, text, base);
    if (relayed !== undefined) return relayed;
    const check = checkRequest(body, dialect);
    if (!check.ok) {
      try {
        options.onSecurityEvent?.({
          type: 'malformed_request',
          agent: agent.name,
          reason: check.message,
          unauthenticated: { source: sourceOf(c.env) },
        });
      } catch {
        // The refusal below stands whatever the audit sink does.
      }
      // A message whose params are not a message is refused on its shape, and recorded as such.
      const method = (body as { method?: unknown } | null)?.method;
      const note = MESSAGE_METHODS.has(String(method))
        ? await recordUnread(agent, check.message, new Date(), sourceOf(c.env))
        : '';
      return c.json(rpcError(check.id, check.code, `${check.message}${note}`));
    }
    const endpoint = endpointOf(agent, base);
    let user: User;
    try {
      user = (await options.user?.(c.req.raw)) ?? new UnauthenticatedUser();
    } catch {
      // An error while identifying the caller is a refusal; its text (a token, perhaps) is not repeated.
      return c.json(rpcError(check.id, OACP_JSONRPC_CODES.OACP_CALLER_UNIDENTIFIED, CALLER_UNIDENTIFIED));
    }
    const context = new ServerCallContext({
      requestedExtensions: Extensions.parseServiceParameter(c.req.header(HTTP_EXTENSION_HEADER)),
      user,
      requestedVersion: version,
      state: new Map<string, unknown>([
        ['headers', c.req.header()],
        [SOURCE_STATE, sourceOf(c.env)],
      ]),
    });
    const sdkError =
      dialect === 'v1'
        ? JsonRpcTransportHandler.mapToJSONRPCError
        : LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError;
    // The SDK's messages quote the caller (a version, a task id): redacted and cut, as every answer.
    const mapError = (error: unknown) => echoRpcError(sdkError(error));
    try {
      validateVersion(context.requestedVersion, endpoint.card, 'JSONRPC');
    } catch (error) {
      return c.json({ jsonrpc: '2.0', id: check.id, error: mapError(error) });
    }
    const outcome = await (dialect === 'v1' ? endpoint.v1 : endpoint.legacy).handle(
      body as Record<string, unknown>,
      context,
    );
    const headers: Record<string, string> = {};
    if (context.activatedExtensions !== undefined && context.activatedExtensions.length > 0) {
      headers[HTTP_EXTENSION_HEADER] = Extensions.toServiceParameter(context.activatedExtensions);
    }
    if (!isAsyncIterable(outcome)) return c.json(echoRpcAnswer(outcome) as typeof outcome, 200, headers);
    return sse(outcome, check.id, mapError, headers);
  }

  const refuseUnread = async (
    request: Request,
    reason: string,
    env?: unknown,
  ): Promise<Response | undefined> => {
    const startedAt = new Date();
    const name = agentNameOf(request);
    const agent = name === undefined ? undefined : await options.agents.get(name);
    if (agent === undefined) return undefined;
    try {
      options.onSecurityEvent?.({
        type: 'malformed_request',
        agent: agent.name,
        reason,
        unauthenticated: { source: sourceOf(env) },
      });
    } catch {
      // The refusal below stands whatever the audit sink does.
    }
    const note = await recordUnread(agent, reason, startedAt, sourceOf(env));
    const message = `OACP_MESSAGE_LIMITS: ${reason}${note}`;
    return Response.json(rpcError(null, OACP_JSONRPC_CODES.OACP_MESSAGE_LIMITS, message));
  };

  /**
   * One receipt for a message refused on its shape with nothing read: ` (receipt #N)`, or ''
   * when none (its sender is unauthenticated, so only within the refusal receipt limits).
   */
  async function recordUnread(
    agent: A2aAgent,
    reason: string,
    startedAt: Date,
    source: string,
  ): Promise<string> {
    if (refusalLimiter !== undefined && !refusalLimiter.admit(agent, source)) return '';
    try {
      const receipt = await options.receipts?.record(
        unreadRefusalRecord(agent, randomUUID(), reason, startedAt),
      );
      return receipt === undefined ? '' : ` (receipt #${receipt.index})`;
    } catch {
      // The refusal stands either way; its message then carries no receipt number.
      return '';
    }
  }

  return {
    app,
    fetch: (request, env) => app.fetch(request, env),
    refuseUnread,
    refuseRequest: (request, refusal) => (onEndpoint(request) ? refusalAnswer(null, refusal) : undefined),
    flushRefusals: async () => refusalLimiter?.flushAll(),
  };
}

/** The methods that read a task, in both dialects: the store answers them (A2aServerOptions.taskStore). */
const TASK_READS: ReadonlySet<string> = new Set(['GetTask', 'tasks/get']);

/** Whether the request reads a task and the tasks are in a store of the embedder's (shared in a cluster). */
function readsTask(body: unknown, options: A2aServerOptions): boolean {
  if (options.taskStore === undefined) return false;
  const method =
    typeof body === 'object' && body !== null ? (body as { method?: unknown }).method : undefined;
  return typeof method === 'string' && TASK_READS.has(method);
}

/** A request's source for the refusal receipt limits: its client address (an IPv6 one's /64). */
function sourceOf(env: unknown): string {
  return clientSource(peerAddressOf(env));
}

/** Whether the request is a `POST /a2a/<one segment>`: the JSON-RPC route, whatever the segment names. */
function onEndpoint(request: Request): boolean {
  if (request.method !== 'POST') return false;
  const rest = new URL(request.url).pathname.slice(A2A_PREFIX.length + 1);
  return new URL(request.url).pathname.startsWith(`${A2A_PREFIX}/`) && rest !== '' && !rest.includes('/');
}

/** The agent a `POST /a2a/<agent>` is for; undefined for any other request. */
function agentNameOf(request: Request): string | undefined {
  if (request.method !== 'POST') return undefined;
  const path = new URL(request.url).pathname;
  const prefix = `${A2A_PREFIX}/`;
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  if (rest === '' || rest.includes('/')) return undefined;
  try {
    return decodeURIComponent(rest);
  } catch {
    return undefined;
  }
}

/** The relaying member's base URL as an origin; undefined when absent or not an http(s) origin. */
function relayedBase(request: Request): string | undefined {
  const text = request.headers.get(RELAYED_BASE_HEADER);
  if (text === null) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** The request's method, URL, headers (one set) and signal; the body travels separately. */
function withHeader(request: Request, name: string, value: string): Request {
  const headers = new Headers(request.headers);
  headers.set(name, value);
  return new Request(request.url, { method: request.method, headers, signal: request.signal });
}
