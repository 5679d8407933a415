import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  CompleteRequestSchema,
  CompleteResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  EmptyResultSchema,
  GetPromptRequestSchema,
  GetPromptResultSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListRootsRequestSchema,
  ListToolsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ReadResourceRequestSchema,
  ReadResourceResultSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  ToolListChangedNotificationSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_REFUSAL_RECEIPT_LIMITS } from '../airlock/quota/refusal-limit.js';
import {
  receiptedRefusal,
  refuseUnreadMessage,
  refuseUnrouted,
  refuseUnroutedRead,
  type SessionRefusals,
  type UnroutedRefusals,
} from './aggregate-refusal.js';
import { screenedCalls } from './aggregate-screen.js';
import type { Bridge, ServedSession } from './bridge.js';
import { RECEIPT_META } from './call-recorder.js';
import { recordedToolName } from './call-shape.js';
import {
  classify,
  errorResponse,
  INVALID_PARAMS,
  INVALID_REQUEST,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcRequest,
} from './jsonrpc.js';
import { malformedCalls } from './malformed-calls.js';
import { allPages } from './pages.js';
import type { PolicedRead } from './read-requests.js';
import { CLIENT_NOTIFICATION_PREFIX, CLIENT_REQUEST_PREFIX } from './recorded-requests.js';
import { bridgeRefusals, unreceiptedDenial } from './refusal-receipts.js';
import { qualifiedToolName, splitToolName, TOOL_NAME_SEPARATOR } from './tool-names.js';
import { fromSdkTransport, type MessageTransport, toSdkTransport } from './transport.js';
import { unreadParams } from './unread-message.js';

type Inner = { readonly name: string; readonly client: Client; readonly session: ServedSession };

/**
 * `--config` with several servers: one client sees all of them as one MCP
 * server. Each server keeps its own bridge (sandbox, policy, pins, receipts);
 * this front lists their tools and prompts as `<server>__<name>`, merges
 * resources, and routes each request to the server it names. The inner
 * clients declare exactly the client's capabilities and pass sampling,
 * elicitation and roots requests back to it.
 */
export function createAggregateBridge(
  servers: ReadonlyMap<string, Bridge>,
  refusals: UnroutedRefusals,
): Bridge {
  const sessions = new Set<ServedSession>();
  // The front's own refusals of client messages, limited as each server's bridge limits its own.
  const limiter = bridgeRefusals(refusals.refusalReceipts ?? DEFAULT_REFUSAL_RECEIPT_LIMITS);
  let served = 0;
  return {
    async serve(downstream) {
      const session = await serveAggregate(
        servers,
        { ...refusals, limiter: { refusals: limiter.limiter, session: `front session ${++served}` } },
        downstream,
      );
      sessions.add(session);
      void session.closed.then(() => sessions.delete(session));
      return session;
    },
    async close() {
      await Promise.allSettled([...sessions].map((session) => session.close()));
      await limiter.close();
      await Promise.allSettled([...servers.values()].map((bridge) => bridge.close()));
    },
  };
}

/** Waits for the client's initialize: the inner clients must declare what it declares. */
async function serveAggregate(
  servers: ReadonlyMap<string, Bridge>,
  refusals: SessionRefusals,
  downstream: MessageTransport,
): Promise<ServedSession> {
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let inners: Inner[] = [];
  let server: Server | undefined;
  let closing = false;
  const close = async () => {
    if (closing) return closed;
    closing = true;
    await server?.close().catch(() => undefined);
    await Promise.allSettled(inners.map((inner) => inner.session.close()));
    await downstream.close().catch(() => undefined);
    resolveClosed();
  };
  const buffered: unknown[] = [];
  downstream.onclose = () => void close();
  let clientInfoSeen = { name: 'client', version: '0' };
  downstream.oninvalid = (id, code, reason, unread, answer) => {
    const send = answer ?? ((message: JsonRpcMessage) => void downstream.send(message));
    if (unread?.method === undefined) return send(errorResponse(id, code, reason));
    // Recorded as the single-server bridge records it (BridgeSession), with no server chosen.
    const prefix = id === null ? CLIENT_NOTIFICATION_PREFIX : CLIENT_REQUEST_PREFIX;
    void refuseUnreadMessage(
      refusals,
      `${prefix}${unread.method}`,
      unreadParams(unread),
      reason,
      clientInfoSeen,
    ).then((receipt) =>
      send(errorResponse(id, code, reason, receipt === undefined ? undefined : { [RECEIPT_META]: receipt })),
    );
  };
  downstream.onmessage = (raw) => {
    if (server !== undefined || buffered.length > 0) {
      buffered.push(raw);
      return;
    }
    const message = classify(raw);
    if (message.kind !== 'request' || message.message.method !== 'initialize') {
      const id = message.kind === 'request' ? message.message.id : null;
      void downstream.send(errorResponse(id, INVALID_REQUEST, 'the session has not been initialized'));
      return;
    }
    buffered.push(raw);
    void start(message.message).catch((error: unknown) => {
      const reason = `cannot start the configured servers: ${error instanceof Error ? error.message : String(error)}`;
      void downstream.send(errorResponse(message.message.id, -32603, reason)).then(close);
    });
  };

  const start = async (initialize: JsonRpcRequest) => {
    const params = initialize.params ?? {};
    const clientInfo = (params.clientInfo ?? { name: 'client', version: '0' }) as {
      name: string;
      version: string;
    };
    clientInfoSeen = clientInfo;
    const capabilities = (params.capabilities ?? {}) as Record<string, unknown>;
    const holds: ClientHolds = { count: 0 };
    inners = await Promise.all(
      [...servers].map(async ([name, bridge]) => {
        const [clientSide, bridgeSide] = InMemoryTransport.createLinkedPair();
        const session = await bridge.serve(heldWithClient(fromSdkTransport(bridgeSide), downstream, holds));
        const client = new Client(clientInfo, { capabilities });
        await client.connect(clientSide);
        return { name, client, session };
      }),
    );
    const refuse = (params: Readonly<Record<string, unknown>>, reason: string) =>
      refuseUnrouted(refusals, params, reason, clientInfo);
    // A call refused for what the message was (not JSON-RPC, sent as a notification, a duplicate
    // id), not routed: its receipt is within the refusal receipt limits, as a server's session's are.
    const refuseMessage = async (params: Readonly<Record<string, unknown>>, reason: string) =>
      receiptedRefusal(refusals) ? refuse(params, reason) : unreceiptedDenial(reason);
    const refuseRead = (method: PolicedRead, params: unknown, reason: string) =>
      refuseUnroutedRead(refusals, method, params, reason, clientInfo);
    server = frontServer(inners, capabilities, refuse, refuseRead);
    // A body its transport refused (not JSON-RPC, an id in flight, too much in flight: `busy`):
    // its tool calls recorded as refused, in the words a server's own session uses.
    downstream.onrefused = (raw, why, busy = false) => {
      const { calls, more } = malformedCalls(raw);
      const reason = `${busy ? 'refused' : 'invalid JSON-RPC message'}: ${why}; the tools/call in it was not forwarded`;
      for (const params of calls) void refuseMessage(params ?? {}, reason).catch(() => undefined);
      if (more > 0)
        void refuseUnreadMessage(
          refusals,
          `${CLIENT_REQUEST_PREFIX}tools/call`,
          { refusedCalls: more },
          `${reason}; ${more} more tools/call in the same message were refused and are recorded in this one receipt`,
          clientInfo,
        );
    };
    const byName = new Map(inners.map((inner) => [inner.name, inner]));
    // Calls the SDK server would refuse or drop unrecorded go to the pipeline instead: to the
    // server they name (its bridge refuses them, with its receipt), else refused here.
    const malformed = async (params: Readonly<Record<string, unknown>>) => {
      const name = typeof params.name === 'string' ? params.name : '';
      const parts = splitToolName(name);
      const inner = parts === undefined ? undefined : byName.get(parts.server);
      if (inner === undefined || parts === undefined) return refuse(params, unroutedReason(name));
      return (await inner.client.request(
        { method: 'tools/call', params: { ...params, name: parts.tool } },
        CallToolResultSchema,
      )) as Record<string, unknown>;
    };
    const notified = async (params: Readonly<Record<string, unknown>>) => {
      await refuseMessage(params, NOTIFIED_CALL_REASON);
    };
    // Recorded as a server's own session records it: a tool call as a refused call, else the method.
    const duplicate = async (method: string, id: JsonRpcId, params: Readonly<Record<string, unknown>>) => {
      const reason = `the id ${JSON.stringify(id).slice(0, 80)} is already used by a request in flight`;
      if (method === 'tools/call') {
        try {
          return { jsonrpc: '2.0' as const, id, result: await refuseMessage(params, reason) };
        } catch (error) {
          return errorResponse(id, INVALID_REQUEST, error instanceof Error ? error.message : reason);
        }
      }
      const receipt = await refuseUnreadMessage(
        refusals,
        `${CLIENT_REQUEST_PREFIX}${method}`,
        params,
        reason,
        clientInfo,
      );
      return errorResponse(
        id,
        INVALID_REQUEST,
        reason,
        receipt === undefined ? undefined : { [RECEIPT_META]: receipt },
      );
    };
    const sdk = toSdkTransport(screenedCalls(downstream, { buffered, malformed, notified, duplicate }));
    // The SDK server now owns the transport's close callback: route it back to ours.
    server.onclose = () => void close();
    await server.connect(sdk);
  };

  await downstream.start();
  return { closed, close };
}

/**
 * An inner bridge's end of its in-memory pair, backlogged while the front's own client is: each
 * server's session then stops reading its server until the client drains (SessionWire's hold, as
 * for a single server over stdio), so a flooding server cannot grow the front's output unbounded.
 */
function heldWithClient(
  inner: MessageTransport,
  client: MessageTransport,
  holds: ClientHolds,
): MessageTransport {
  const { backlogged, whenDrained, pause, resume } = client;
  if (backlogged !== undefined && whenDrained !== undefined) {
    inner.backlogged = () => backlogged.call(client);
    inner.whenDrained = (then) => whenDrained.call(client, then);
  }
  // The other way: a server not reading its stdin holds the one client (SessionWire's #holdClient)
  // until every server that asked for the hold has let it go.
  if (pause !== undefined && resume !== undefined) {
    inner.pause = () => {
      if (holds.count++ === 0) pause.call(client);
    };
    inner.resume = () => {
      if (--holds.count === 0) resume.call(client);
    };
  }
  return inner;
}

/** How many servers' sessions hold the front's client now. */
type ClientHolds = { count: number };

/** How a refused listing names itself: `tools/list of "github"`. */
function listOf(method: string, inner: Inner): string {
  return `${method} of ${JSON.stringify(inner.name)}`;
}

/** Why a call naming no configured server is refused. */
function unroutedReason(qualified: string): string {
  return `"${recordedToolName(qualified)}" names no configured server (expected <server>${TOOL_NAME_SEPARATOR}<name>)`;
}

const NOTIFIED_CALL_REASON =
  'tools/call sent as a notification (no id) is refused: it could not be answered with its receipt';

function frontServer(
  inners: readonly Inner[],
  clientCapabilities: Record<string, unknown>,
  refuseUnroutedCall: (params: Record<string, unknown>, reason: string) => Promise<Record<string, unknown>>,
  refuseUnroutedRead: (method: PolicedRead, params: unknown, reason: string) => Promise<never>,
): Server {
  const has = (key: 'tools' | 'resources' | 'prompts' | 'completions' | 'logging') =>
    inners.filter((inner) => inner.client.getServerCapabilities()?.[key] !== undefined);
  const subscribable = has('resources').some(
    (inner) => inner.client.getServerCapabilities()?.resources?.subscribe,
  );
  const server = new Server(
    { name: 'oacp-mcp-bridge', version: '1' },
    {
      capabilities: {
        ...(has('tools').length > 0 ? { tools: { listChanged: true } } : {}),
        ...(has('resources').length > 0 ? { resources: { listChanged: true, subscribe: subscribable } } : {}),
        ...(has('prompts').length > 0 ? { prompts: { listChanged: true } } : {}),
        ...(has('completions').length > 0 ? { completions: {} } : {}),
        logging: {},
      },
      instructions: inners
        .map((inner) => {
          const text = inner.client.getInstructions();
          return text === undefined ? undefined : `## ${inner.name}\n${text}`;
        })
        .filter((text) => text !== undefined)
        .join('\n\n'),
    },
  );
  const byName = new Map(inners.map((inner) => [inner.name, inner]));
  const resourceOwner = new Map<string, Inner>();
  const templateOwner = new Map<string, Inner>();

  const route = (qualified: string): { inner: Inner; name: string } | undefined => {
    const parts = splitToolName(qualified);
    const inner = parts === undefined ? undefined : byName.get(parts.server);
    return inner === undefined || parts === undefined ? undefined : { inner, name: parts.tool };
  };
  const split = (qualified: string): { inner: Inner; name: string } => {
    const routed = route(qualified);
    if (routed === undefined) throw new McpError(INVALID_PARAMS, unroutedReason(qualified));
    return routed;
  };
  const owner = (uri: string): Inner => {
    const listed = resourceOwner.get(uri);
    if (listed !== undefined) return listed;
    const withResources = has('resources');
    if (withResources.length === 1 && withResources[0] !== undefined) return withResources[0];
    // A templated resource: the server whose template's fixed prefix the URI starts with.
    for (const [template, inner] of templateOwner) {
      const prefix = template.split('{')[0] ?? template;
      if (prefix !== '' && uri.startsWith(prefix)) return inner;
    }
    throw new McpError(
      INVALID_PARAMS,
      `no configured server is known to offer ${uri}; list resources or templates first`,
    );
  };
  /**
   * The server a policed read goes to; one that routes to none is refused by the pipeline and
   * recorded (refuseUnroutedRead), as an unrouted tools/call is. The server's own bridge judges
   * and records a routed one.
   */
  const readRoute = async <T>(method: PolicedRead, params: unknown, find: () => T): Promise<T> => {
    try {
      return find();
    } catch (error) {
      if (!(error instanceof McpError)) throw error;
      return refuseUnroutedRead(method, params, error.message.replace(/^MCP error -?\d+: /, ''));
    }
  };
  const forwardOptions = (extra: {
    signal: AbortSignal;
    _meta?: { progressToken?: string | number } | undefined;
    sendNotification: (n: never) => Promise<void>;
  }): RequestOptions => {
    const token = extra._meta?.progressToken;
    return {
      signal: extra.signal,
      timeout: 24 * 3600 * 1000,
      ...(token === undefined
        ? {}
        : {
            onprogress: (progress) =>
              void extra.sendNotification({
                method: 'notifications/progress',
                params: { ...progress, progressToken: token },
              } as never),
            resetTimeoutOnProgress: true,
          }),
    };
  };

  if (has('tools').length > 0) {
    server.setRequestHandler(ListToolsRequestSchema, async () => {
      const lists = await Promise.all(
        has('tools').map(async (inner) =>
          (
            await allPages((params) => inner.client.listTools(params), 'tools', listOf('tools/list', inner))
          ).map((tool) => ({
            ...tool,
            name: qualifiedToolName(inner.name, String(tool.name)),
          })),
        ),
      );
      return { tools: lists.flat() as never[] };
    });
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const routed = route(request.params.name);
      // A call no server can take is still a call: refused by the pipeline, with its receipt.
      if (routed === undefined)
        return refuseUnroutedCall(request.params, unroutedReason(request.params.name)) as never;
      const { inner, name } = routed;
      return inner.client.request(
        { method: 'tools/call', params: { ...request.params, name } },
        CallToolResultSchema,
        forwardOptions(extra as never),
      );
    });
  }
  if (has('resources').length > 0) {
    server.setRequestHandler(ListResourcesRequestSchema, async () => {
      const lists = await Promise.all(
        has('resources').map(async (inner) => {
          const resources = await allPages(
            (params) => inner.client.listResources(params),
            'resources',
            listOf('resources/list', inner),
          );
          for (const resource of resources) resourceOwner.set(String(resource.uri), inner);
          return resources;
        }),
      );
      return { resources: lists.flat() as never[] };
    });
    server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => {
      const lists = await Promise.all(
        has('resources').map(async (inner) => {
          const templates = await allPages(
            (params) => inner.client.listResourceTemplates(params),
            'resourceTemplates',
            listOf('resources/templates/list', inner),
          );
          for (const template of templates) templateOwner.set(String(template.uriTemplate), inner);
          return templates;
        }),
      );
      return { resourceTemplates: lists.flat() as never[] };
    });
    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) =>
      (await readRoute('resources/read', request.params, () => owner(request.params.uri))).client.request(
        { method: 'resources/read', params: request.params },
        ReadResourceResultSchema,
        forwardOptions(extra as never),
      ),
    );
    server.setRequestHandler(SubscribeRequestSchema, async (request) =>
      (
        await readRoute('resources/subscribe', request.params, () => owner(request.params.uri))
      ).client.request({ method: 'resources/subscribe', params: request.params }, EmptyResultSchema),
    );
    server.setRequestHandler(UnsubscribeRequestSchema, async (request) =>
      owner(request.params.uri).client.request(
        { method: 'resources/unsubscribe', params: request.params },
        EmptyResultSchema,
      ),
    );
  }
  if (has('prompts').length > 0) {
    server.setRequestHandler(ListPromptsRequestSchema, async () => {
      const lists = await Promise.all(
        has('prompts').map(async (inner) =>
          (
            await allPages(
              (params) => inner.client.listPrompts(params),
              'prompts',
              listOf('prompts/list', inner),
            )
          ).map((prompt) => ({
            ...prompt,
            name: qualifiedToolName(inner.name, String(prompt.name)),
          })),
        ),
      );
      return { prompts: lists.flat() as never[] };
    });
    server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
      const { inner, name } = await readRoute('prompts/get', request.params, () =>
        split(request.params.name),
      );
      return inner.client.request(
        { method: 'prompts/get', params: { ...request.params, name } },
        GetPromptResultSchema,
        forwardOptions(extra as never),
      );
    });
  }
  if (has('completions').length > 0) {
    server.setRequestHandler(CompleteRequestSchema, async (request) => {
      const ref = request.params.ref;
      if (ref.type === 'ref/prompt') {
        const { inner, name } = await readRoute('completion/complete', request.params, () => split(ref.name));
        return inner.client.request(
          { method: 'completion/complete', params: { ...request.params, ref: { ...ref, name } } },
          CompleteResultSchema,
        );
      }
      const inner = await readRoute(
        'completion/complete',
        request.params,
        () => templateOwner.get(ref.uri) ?? owner(ref.uri.split('{')[0] ?? ref.uri),
      );
      return inner.client.request(
        { method: 'completion/complete', params: request.params },
        CompleteResultSchema,
      );
    });
  }
  server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    await Promise.all(
      has('logging').map((inner) =>
        inner.client.request({ method: 'logging/setLevel', params: request.params }, EmptyResultSchema),
      ),
    );
    return {};
  });
  server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    await Promise.all(inners.map((inner) => inner.client.sendRootsListChanged()));
  });

  for (const inner of inners) {
    // The inner clients declared the client's capabilities; only those requests can come back.
    if (clientCapabilities.sampling !== undefined) {
      inner.client.setRequestHandler(CreateMessageRequestSchema, (request, extra) =>
        server.createMessage(request.params, { signal: extra.signal }),
      );
    }
    if (clientCapabilities.elicitation !== undefined) {
      inner.client.setRequestHandler(ElicitRequestSchema, (request, extra) =>
        server.elicitInput(request.params, { signal: extra.signal }),
      );
    }
    if (clientCapabilities.roots !== undefined) {
      inner.client.setRequestHandler(ListRootsRequestSchema, (request, extra) =>
        server.listRoots(request.params, { signal: extra.signal }),
      );
    }
    inner.client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) =>
      server.notification({
        ...notification,
        params: { ...notification.params, logger: notification.params.logger ?? inner.name },
      }),
    );
    inner.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) =>
      server.notification(notification),
    );
    inner.client.setNotificationHandler(ToolListChangedNotificationSchema, () =>
      server.sendToolListChanged(),
    );
    inner.client.setNotificationHandler(ResourceListChangedNotificationSchema, () =>
      server.sendResourceListChanged(),
    );
    inner.client.setNotificationHandler(PromptListChangedNotificationSchema, () =>
      server.sendPromptListChanged(),
    );
  }
  return server;
}
