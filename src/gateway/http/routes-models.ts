import { z } from 'zod';
import { parseBoundedJson } from '../../core/bounded-json.js';
import { sha256Hex } from '../../core/digest.js';
import { messages } from '../models/anthropic-wire.js';
import {
  BatchCreateSchema,
  type BatchRefused,
  type BatchRequest,
  batchParts,
  reserveBatch,
} from '../models/batch.js';
import { BatchFileRefused, BatchFilesFull } from '../models/batch-files.js';
import { modelCallerFor } from '../models/caller.js';
import type { Dialect } from '../models/dialect.js';
import type { ModelAnswer, ModelCaller } from '../models/model-gateway.js';
import { anthropicModelList, openAiModelList } from '../models/model-list.js';
import { chatCompletions, embeddings } from '../models/openai-wire.js';
import type { AgentDirectory } from '../runtime/agent-directory.js';
import type { Principal } from './auth.js';
import { sendChunks, sendWhole } from './direct-response.js';
import { type GatewayContext, MAX_BODY_DEPTH, parseBody } from './env.js';
import { httpError } from './errors.js';
import { agentKey, type Route, route, scope } from './route.js';
import type { GatewayServices } from './services.js';

/**
 * The model leg's wire-compatible endpoints (docs/model-gateway.md): OpenAI
 * Chat Completions, Embeddings and Models, and Anthropic Messages, so an
 * agent's usual SDK works with its base URL pointed here and an agent key
 * (an API key bound to the agent, scope `models:call`) or a signed request.
 */
export function modelRoutes(services: GatewayServices): Route[] {
  const models = services.models;
  if (models === undefined) return [];
  const access = agentKey('models:call');
  const partsOf = (caller: ModelCaller, batch: BatchRequest) =>
    batchParts(models.gateway, models.config, caller, batch);
  /** The batch in the body, its items read from its input file when it names one (400 naming the field). */
  const batchOf = async (c: GatewayContext, caller: ModelCaller): Promise<BatchRequest> => {
    const batch = await parseBody(c, BatchCreateSchema);
    if (batch.requests !== undefined) return { ...batch, requests: batch.requests };
    return refusedFile(() => models.files.requestFor(caller.did, batch.input_file_id ?? '', batch));
  };
  const serve = (path: string, dialect: Dialect) =>
    route('POST', path, access, async (c) => {
      // c.get, not c.var: hono builds a fresh object of every variable on each read of c.var.
      const caller = await modelCaller(c.get('principal'), services.agents);
      const bytes = await c.get('readBody')();
      const body = readJson(bytes);
      if (body === undefined)
        return send(c, await models.gateway.unreadable(dialect, caller, sha256Hex(bytes)));
      return send(
        c,
        await models.gateway.call(dialect, caller, body.value, {
          parent: c.get('span'),
          signal: c.req.raw.signal,
        }),
      );
    });
  return [
    serve('/v1/chat/completions', chatCompletions),
    serve('/v1/embeddings', embeddings),
    serve('/v1/messages', messages),
    // Synchronous: answers when every item has ended (the same batch run as /v1/batches).
    route('POST', '/v1/oacp/batches', access, async (c: GatewayContext) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      const batch = await batchOf(c, caller);
      const reserved = await reserveBatch(partsOf(caller, batch));
      if (reserved.refused) return refusedBatch(reserved);
      const results = await reserved.run(c.req.raw.signal);
      return c.json({ object: 'oacp.batch', results });
    }),
    // Asynchronous, OpenAI's shape: created at once, polled, read, cancelled by the agent that made it.
    route('POST', '/v1/batches', access, async (c: GatewayContext) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      const batch = await batchOf(c, caller);
      const cap = models.config.batches_per_agent;
      const full = (running: number) =>
        limited(
          429,
          'models.batches_per_agent',
          `models.batches_per_agent: you have ${running} batches running, the limit is ${cap}; wait for one to end or cancel one`,
        );
      // Read first so a full agent reserves nothing; the count that decides is taken again as the batch is stored.
      const running = await models.batches.running(caller.did);
      if (running >= cap) return full(running);
      const reserved = await reserveBatch(partsOf(caller, batch));
      if (reserved.refused) return refusedBatch(reserved);
      const created = await models.batches.create(caller.did, batch, reserved, cap);
      return 'full' in created ? full(created.full) : c.json(created);
    }),
    // OpenAI's list (`client.batches.list({ after, limit })`): the agent's batches, newest first.
    route('GET', '/v1/batches', access, async (c) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      const page = BatchPageSchema.safeParse(c.req.query());
      if (!page.success) {
        const issue = page.error.issues[0];
        throw httpError(
          'BAD_REQUEST',
          `${issue?.path.map(String).join('.') || 'query'}: ${issue?.message ?? 'invalid'}`,
        );
      }
      return c.json(await models.batches.list(caller.did, page.data.limit, page.data.after));
    }),
    route('GET', '/v1/batches/:id', access, async (c) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      const id = c.req.param('id') ?? '';
      const batch = await models.batches.get(caller.did, id);
      if (batch === undefined) throw unknownBatch(id);
      return c.json(batch);
    }),
    route('POST', '/v1/batches/:id/cancel', access, async (c) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      const id = c.req.param('id') ?? '';
      const batch = await models.batches.cancel(caller.did, id);
      if (batch === undefined) throw unknownBatch(id);
      if (batch === 'ended')
        throw httpError(
          'BAD_REQUEST',
          `batch ${id} is not running on this node (it has ended, or another node runs it): there is nothing to cancel here`,
        );
      return c.json(batch);
    }),
    // A batch's input, uploaded as OpenAI's SDK does (`client.files.create({ file, purpose: 'batch' })`).
    route('POST', '/v1/files', access, async (c) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      const form = await readForm(c.req.header('content-type'), await c.var.readBody());
      return c.json(
        await refusedFile(() => models.files.upload(caller.did, form.get('purpose'), form.get('file'))),
      );
    }),
    route('GET', '/v1/files/:id', access, async (c) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      const id = c.req.param('id') ?? '';
      const file = await models.files.get(caller.did, id);
      if (file === undefined) throw httpError('NOT_FOUND', `file ${id} is not one of your uploaded files`);
      return c.json(file);
    }),
    route('GET', '/v1/files/:id/content', access, async (c) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      const id = c.req.param('id') ?? '';
      const output =
        (await models.batches.output(caller.did, id)) ?? (await models.files.content(caller.did, id));
      if (output === undefined)
        throw httpError(
          'NOT_FOUND',
          `file ${id} is neither one of your uploaded files nor the output of one of your batches that has ended`,
        );
      return new Response(output, { status: 200, headers: { 'content-type': 'application/jsonl' } });
    }),
    // Operators' view: breaker, last error class (never a provider's words) and a probe spending no tokens.
    route('GET', '/v1/oacp/models/health', scope('audit:read'), async (c) =>
      c.json({ providers: await models.gateway.providersStatus() }),
    ),
    route('GET', '/v1/models', access, async (c) => {
      const grant = (await modelCaller(c.var.principal, services.agents)).manifest.capabilities.models;
      const anthropic = c.req.header('anthropic-version') !== undefined;
      return c.json(
        anthropic ? anthropicModelList(models.config, grant) : openAiModelList(models.config, grant),
      );
    }),
  ];
}

/** A batch whose budget did not fit: 429 naming the quota, every item refused with its receipt. */
function refusedBatch(refused: BatchRefused): Response {
  return new Response(JSON.stringify({ object: 'oacp.batch', results: refused.results }), {
    status: 429,
    headers: { 'content-type': 'application/json', ...refused.headers },
  });
}

/** A per-agent batch limit reached: OpenAI's error shape, the config field in the message and in `OACP-Quota`. */
function limited(status: 413 | 429, field: string, message: string): Response {
  return new Response(
    JSON.stringify({
      error: { message, type: 'invalid_request_error', code: 'limit_exceeded', param: null },
    }),
    { status, headers: { 'content-type': 'application/json', 'oacp-quota': field } },
  );
}

/** Runs a file step; a refusal becomes a 400 naming the field to fix. */
async function refusedFile<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof BatchFilesFull) throw httpError('PAYLOAD_TOO_LARGE', error.message);
    if (error instanceof BatchFileRefused) throw httpError('BAD_REQUEST', error.message);
    throw error;
  }
}

/** A multipart form from the (already size-bounded) body; anything else is a 400 naming `file`. */
async function readForm(contentType: string | undefined, bytes: Uint8Array): Promise<FormData> {
  if (contentType?.toLowerCase().startsWith('multipart/form-data') !== true) {
    throw httpError(
      'BAD_REQUEST',
      'file: upload the file as multipart/form-data with the fields file and purpose',
    );
  }
  try {
    return await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw httpError('BAD_REQUEST', 'file: the multipart form could not be read');
  }
}

/** The query of `GET /v1/batches`: OpenAI's cursor (`after`, a batch id) and page size (1-100, default 20). */
const BatchPageSchema = z.object({
  after: z.string().min(1).max(64).optional(),
  limit: z.coerce
    .number({ error: 'expected a whole number from 1 to 100' })
    .int({ error: 'expected a whole number from 1 to 100' })
    .min(1, { error: 'expected a whole number from 1 to 100' })
    .max(100, { error: 'expected a whole number from 1 to 100' })
    .default(20),
});

function unknownBatch(id: string) {
  return httpError('NOT_FOUND', `batch ${id} is not one of your batches`);
}

/** The body as JSON (UTF-8, bounded depth); undefined when it is not. */
function readJson(bytes: Uint8Array): { value: unknown } | undefined {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  const parsed = parseBoundedJson(text, MAX_BODY_DEPTH, 'the request body');
  return parsed.ok ? { value: parsed.value } : undefined;
}

async function modelCaller(principal: Principal, agents: AgentDirectory): Promise<ModelCaller> {
  let agentId: string;
  let signed: boolean;
  if (principal.kind === 'agent') {
    agentId = principal.agent.id;
    signed = true;
  } else {
    if (principal.agentId === undefined) {
      throw httpError(
        'FORBIDDEN',
        `API key ${principal.keyId} is an operator's key: model calls are made as an agent, with an agent key (created with agentId) or a signed request`,
      );
    }
    agentId = principal.agentId;
    signed = false;
  }
  const caller = await modelCallerFor(agents, agentId, signed);
  if (caller === undefined) throw httpError('FORBIDDEN', `agent ${agentId} does not exist or is retired`);
  return caller;
}

function send(c: GatewayContext, answer: ModelAnswer): Response {
  if (answer.kind === 'json') {
    return sendWhole(
      c,
      answer.status,
      { 'content-type': 'application/json', ...answer.headers },
      answer.raw ?? JSON.stringify(answer.body),
    );
  }
  return sendChunks(c, 200, answer.headers, answer.events);
}
