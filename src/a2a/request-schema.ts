import { z } from 'zod';

/**
 * The JSON-RPC requests an OACP agent answers, checked strictly before the SDK
 * sees them: the SDK's ProtoJSON decoders are lenient (a wrong type becomes a
 * default value), and a message that is not what the sender meant must be
 * refused, not guessed at. Two dialects: A2A v1.0 (ProtoJSON, `SendMessage`)
 * and v0.3 (`message/send`), chosen by the A2A-Version header as the SDK does.
 */

const MAX_PARTS = 64;
const Id = z.string().min(1).max(256);
const Metadata = z.record(z.string(), z.unknown());
const Strings = z.array(z.string().max(2048)).max(64);

const V1Part = z
  .strictObject({
    text: z.string().optional(),
    raw: z
      .string()
      .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64')
      .optional(),
    url: z.string().max(2048).optional(),
    data: z.unknown().optional(),
    metadata: Metadata.optional(),
    filename: z.string().max(1024).optional(),
    mediaType: z.string().max(256).optional(),
  })
  .refine(
    (part) => ['text', 'raw', 'url', 'data'].filter((key) => key in part).length === 1,
    'a part holds exactly one of text, raw, url or data',
  );

const V1Message = z.strictObject({
  messageId: Id,
  contextId: Id.optional(),
  taskId: Id.optional(),
  role: z.enum(['ROLE_USER', 'ROLE_AGENT']),
  parts: z.array(V1Part).min(1).max(MAX_PARTS),
  metadata: Metadata.optional(),
  extensions: Strings.optional(),
  referenceTaskIds: Strings.optional(),
});

const V1SendParams = z.strictObject({
  tenant: z.string().max(256).optional(),
  message: V1Message,
  configuration: z
    .strictObject({
      acceptedOutputModes: Strings.optional(),
      taskPushNotificationConfig: Metadata.optional(),
      historyLength: z.number().int().nonnegative().optional(),
      returnImmediately: z.boolean().optional(),
    })
    .optional(),
  metadata: Metadata.optional(),
});

const V1TaskParams = z.strictObject({
  tenant: z.string().max(256).optional(),
  id: Id,
  historyLength: z.number().int().nonnegative().optional(),
  metadata: Metadata.optional(),
});

const V03Part = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('text'), text: z.string(), metadata: Metadata.optional() }),
  z.strictObject({ kind: z.literal('data'), data: Metadata, metadata: Metadata.optional() }),
  z.strictObject({ kind: z.literal('file'), file: Metadata, metadata: Metadata.optional() }),
]);

const V03Message = z.strictObject({
  kind: z.literal('message'),
  messageId: Id,
  contextId: Id.optional(),
  taskId: Id.optional(),
  role: z.enum(['user', 'agent']),
  parts: z.array(V03Part).min(1).max(MAX_PARTS),
  metadata: Metadata.optional(),
  extensions: Strings.optional(),
  referenceTaskIds: Strings.optional(),
});

const V03SendParams = z.strictObject({
  message: V03Message,
  configuration: z
    .strictObject({
      acceptedOutputModes: Strings.optional(),
      blocking: z.boolean().optional(),
      historyLength: z.number().int().nonnegative().optional(),
      pushNotificationConfig: Metadata.optional(),
    })
    .optional(),
  metadata: Metadata.optional(),
});

const V03TaskParams = z.strictObject({
  id: Id,
  historyLength: z.number().int().nonnegative().optional(),
  metadata: Metadata.optional(),
});

export type Dialect = 'v1' | 'v0.3';

const METHODS: Record<Dialect, Record<string, z.ZodType>> = {
  v1: {
    SendMessage: V1SendParams,
    SendStreamingMessage: V1SendParams,
    GetTask: V1TaskParams,
    CancelTask: V1TaskParams,
    SubscribeToTask: V1TaskParams,
  },
  'v0.3': {
    'message/send': V03SendParams,
    'message/stream': V03SendParams,
    'tasks/get': V03TaskParams,
    'tasks/cancel': V03TaskParams,
    'tasks/resubscribe': V03TaskParams,
  },
};

const Envelope = z.strictObject({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.string().max(256), z.number().int(), z.null()]).optional(),
  method: z.string().min(1).max(128),
  params: z.unknown().optional(),
});

export type JsonRpcId = string | number | null;

export type RequestCheck =
  | { readonly ok: true; readonly id: JsonRpcId; readonly method: string }
  | { readonly ok: false; readonly id: JsonRpcId; readonly code: number; readonly message: string };

/** JSON-RPC 2.0 codes for requests refused before dispatch. */
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const PARSE_ERROR = -32700;

export function checkRequest(body: unknown, dialect: Dialect): RequestCheck {
  const envelope = Envelope.safeParse(body);
  const rawId = typeof body === 'object' && body !== null ? (body as { id?: unknown }).id : undefined;
  const id: JsonRpcId = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : null;
  if (!envelope.success) {
    return {
      ok: false,
      id,
      code: INVALID_REQUEST,
      message: `not a JSON-RPC 2.0 request: ${issue(envelope.error)}`,
    };
  }
  const { method, params } = envelope.data;
  const schema = METHODS[dialect][method];
  if (schema === undefined) {
    const known = Object.keys(METHODS[dialect]).join(', ');
    return {
      ok: false,
      id,
      code: METHOD_NOT_FOUND,
      message: `method ${JSON.stringify(method)} is not served here (A2A ${dialect}: ${known})`,
    };
  }
  const parsed = schema.safeParse(params);
  if (!parsed.success) {
    return {
      ok: false,
      id,
      code: INVALID_PARAMS,
      message: `invalid ${method} params: ${issue(parsed.error)}`,
    };
  }
  return { ok: true, id, method };
}

function issue(error: z.ZodError): string {
  const first = error.issues[0];
  if (first === undefined) return 'invalid';
  const path = first.path.length === 0 ? 'params' : first.path.join('.');
  return `${path}: ${first.message}`;
}
