import type { Hono } from 'hono';
import { sha256Hex } from '../../core/digest.js';
import { messages } from '../models/anthropic-wire.js';
import { BatchRequestSchema, runBatch } from '../models/batch.js';
import type { Dialect } from '../models/dialect.js';
import type { ModelAnswer, ModelCaller } from '../models/model-gateway.js';
import { anthropicModelList, openAiModelList } from '../models/model-list.js';
import { chatCompletions, embeddings } from '../models/openai-wire.js';
import type { AgentDirectory } from '../runtime/agent-directory.js';
import { type Principal, requireScope } from './auth.js';
import type { GatewayEnv } from './env.js';
import { httpError } from './errors.js';
import type { GatewayServices } from './services.js';

/**
 * The model leg's wire-compatible endpoints (docs/model-gateway.md): OpenAI
 * Chat Completions, Embeddings and Models, and Anthropic Messages, so an
 * agent's usual SDK works with its base URL pointed here and an agent key
 * (an API key bound to the agent, scope `models:call`) or a signed request.
 */
export function modelRoutes(app: Hono<GatewayEnv>, services: GatewayServices): void {
  const models = services.models;
  if (models === undefined) return;
  const serve = (dialect: Dialect) =>
    app.post(dialect.path === '/v1/messages' ? '/v1/messages' : `/v1${dialect.path}`, async (c) => {
      const caller = await modelCaller(c.var.principal, services.agents);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.from(c.var.body).toString('utf8'));
      } catch {
        return send(await models.gateway.unreadable(dialect, caller, sha256Hex(c.var.body)));
      }
      return send(
        await models.gateway.call(dialect, caller, body, { parent: c.var.span, signal: c.req.raw.signal }),
      );
    });
  serve(chatCompletions);
  serve(embeddings);
  serve(messages);
  app.post('/v1/oacp/batches', async (c) => {
    const caller = await modelCaller(c.var.principal, services.agents);
    let parsed: ReturnType<typeof BatchRequestSchema.safeParse>;
    try {
      parsed = BatchRequestSchema.safeParse(JSON.parse(Buffer.from(c.var.body).toString('utf8')));
    } catch {
      throw httpError('BAD_REQUEST', 'the batch is not JSON');
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw httpError(
        'BAD_REQUEST',
        `batch ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const dialect = BATCH_DIALECTS[parsed.data.endpoint] ?? chatCompletions;
    const outcome = await runBatch({
      gateway: models.gateway,
      dialect,
      caller,
      batch: parsed.data,
      concurrency: models.config.batch_concurrency,
      estimateCost: (body, tokens) => models.gateway.costEstimate(body.model, tokens),
    });
    return new Response(JSON.stringify({ object: 'oacp.batch', results: outcome.results }), {
      status: outcome.status,
      headers: { 'content-type': 'application/json', ...outcome.headers },
    });
  });
  app.get('/v1/models', async (c) => {
    await modelCaller(c.var.principal, services.agents);
    const anthropic = c.req.header('anthropic-version') !== undefined;
    return c.json(anthropic ? anthropicModelList(models.config) : openAiModelList(models.config));
  });
}

const BATCH_DIALECTS: Record<string, Dialect> = {
  '/v1/chat/completions': chatCompletions,
  '/v1/embeddings': embeddings,
  '/v1/messages': messages,
};

async function modelCaller(principal: Principal, agents: AgentDirectory): Promise<ModelCaller> {
  let agentId: string;
  let signed: boolean;
  if (principal.kind === 'agent') {
    agentId = principal.agent.id;
    signed = true;
  } else {
    requireScope(principal, 'models:call');
    if (principal.agentId === undefined) {
      throw httpError(
        'FORBIDDEN',
        `API key ${principal.keyId} is an operator's key: model calls are made as an agent, with an agent key (created with agentId) or a signed request`,
      );
    }
    agentId = principal.agentId;
    signed = false;
  }
  const agent = await agents.get(agentId);
  if (agent === undefined || agent.state === 'retired') {
    throw httpError('FORBIDDEN', `agent ${agentId} does not exist or is retired`);
  }
  const lineage = [agent.id];
  for (let parent = agent.parentId; parent !== null && lineage.length < 64; ) {
    const record = await agents.get(parent);
    if (record === undefined) break;
    lineage.push(record.id);
    parent = record.parentId;
  }
  return {
    did: agent.id,
    name: agent.name,
    manifest: agent.manifest,
    attributes: agent.attributes,
    lineage,
    signed,
  };
}

function send(answer: ModelAnswer): Response {
  if (answer.kind === 'json') {
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json', ...answer.headers },
    });
  }
  const iterator = answer.events[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.(undefined);
    },
  });
  return new Response(stream, { status: 200, headers: answer.headers });
}
