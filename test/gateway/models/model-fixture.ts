/**
 * What the model-gateway tests share (one copy each): a gateway config around
 * stand-in providers, provider keys put in the vault, an agent with a model
 * key, receipts read and verified offline, and a gateway run as its own
 * process (for kill -9 and SIGTERM) with the budget counter read from its store.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { StoreQuotaEngine } from '../../../src/airlock/quota/store-engine.js';
import { parseEnvelopeBytes } from '../../../src/attest/receipt.js';
import { OacpClient } from '../../../src/client/index.js';
import { ApiKeys } from '../../../src/gateway/apikeys/api-keys.js';
import { MODEL_PROVIDER_KEYS } from '../../../src/gateway/credentials/credential-vault.js';
import { ModelBudget } from '../../../src/gateway/models/budget.js';
import { OacpNode } from '../../../src/node/oacp-node.js';
import { defaultStorePath, openStore } from '../../../src/store/open-store.js';
import { verifyOffline } from '../../../src/verify/offline-verifier.js';
import { adminKey, type ChildGateway, startChild } from '../service/child-gateway.js';
import { type StartOptions, startGateway, type TestGateway } from '../service/harness.js';
import { freshHome } from '../service/node-home.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const HOUR = 3_600_000;

/** A gateway config whose agents may call any model (and be granted `providerTools`), with `models` as given. */
export function modelsConfig(
  models: Record<string, unknown>,
  tools: string[] = ['*'],
  providerTools: string[] = [],
): Record<string, unknown> {
  const grant = providerTools.length === 0 ? {} : { provider_tools: providerTools };
  return {
    sandbox: { capabilities: { tools: { allow: tools }, models: { allow: ['*'], ...grant } } },
    models,
  };
}

/** A provider entry of `models.providers` for a stand-in, its batch API used (`batch_api: true`), no retries. */
export function batchProvider(
  name: string,
  url: string,
  kind: 'openai' | 'anthropic',
  models: string[],
): Record<string, unknown> {
  return {
    name,
    kind,
    base_url: kind === 'openai' ? `${url}/v1` : url,
    max_retries: 0,
    batch_api: true,
    models,
  };
}

/** An agent of the in-process gateway allowed `models`, and its model key (scope `models:call`). */
export async function modelAgent(
  gw: TestGateway,
  name: string,
  models: string[],
  quotas: Record<string, unknown> = {},
  providerTools: string[] = [],
): Promise<{ readonly agentId: string; readonly key: string }> {
  const grant = providerTools.length === 0 ? {} : { provider_tools: providerTools };
  const agent = await gw.client.createAgent({
    name,
    manifest: {
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name,
      capabilities: { models: { allow: models, ...grant } },
      quotas: { memory_mb: 16, ...quotas },
    },
  });
  const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
  return { agentId: agent.id, key };
}

/** An OpenAI stand-in and an Anthropic one (serving `claude-test`) behind an in-process gateway, no retries. */
export interface TwoProviders {
  readonly openai: StandIn;
  readonly claude: StandIn;
  readonly gw: TestGateway;
  /** The model key of one agent allowed every model. */
  readonly key: string;
  close(): Promise<void>;
}

export async function twoProviders(
  agent: string,
  quotas: Record<string, unknown> = {},
  /** More of `models` beside its providers: `prices`, `budgets`, `aliases`. */
  models: Record<string, unknown> = {},
): Promise<TwoProviders> {
  const openai = await startStandIn('openai');
  const claude = await startStandIn('claude');
  const gw = await startGateway({
    config: modelsConfig({
      ...models,
      providers: [
        { name: 'openai', kind: 'openai', base_url: `${openai.url}/v1`, max_retries: 0 },
        { name: 'claude', kind: 'anthropic', base_url: claude.url, max_retries: 0, models: ['claude-test'] },
      ],
    }),
  });
  const { key } = await modelAgent(gw, agent, ['*'], quotas);
  await putProviderKey(gw, 'openai', `sk-${agent}-0123456789`);
  await putProviderKey(gw, 'claude', `sk-${agent}-0123456789`, 'x-api-key');
  return {
    openai,
    claude,
    gw,
    key,
    close: async () => {
      await gw.close();
      await Promise.all([openai.close(), claude.close()]);
    },
  };
}

/**
 * Posts `body` as JSON to the gateway's `path` as the agent of `key` (its bearer key, and
 * Anthropic's version header, which the OpenAI paths ignore): the answer as undici gives it.
 */
export function postAs(
  target: { readonly gw: TestGateway; readonly key: string },
  path: string,
  body: Record<string, unknown>,
): ReturnType<typeof request> {
  return request(new URL(path, target.gw.url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${target.key}`,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify(body),
  });
}

/** One OpenAI stand-in behind an in-process gateway, no retries. */
export interface OpenAiProvider {
  readonly provider: StandIn;
  readonly gw: TestGateway;
  /** The model key of one agent allowed every model. */
  readonly key: string;
  close(): Promise<void>;
}

/**
 * The stand-in `name` as the gateway's only provider (also its name), its key `providerKey` in
 * the vault; `models` is more of `models` beside it (`breaker`), the rest goes to startGateway.
 */
export async function openAiProvider(
  name: string,
  agent: string,
  providerKey: string,
  options: Omit<StartOptions, 'config'> & { readonly models?: Record<string, unknown> } = {},
): Promise<OpenAiProvider> {
  const { models, ...start } = options;
  const provider = await startStandIn(name);
  const gw = await startGateway({
    ...start,
    config: modelsConfig({
      providers: [{ name, kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
      ...models,
    }),
  });
  const { key } = await modelAgent(gw, agent, ['*']);
  await putProviderKey(gw, name, providerKey);
  return {
    provider,
    gw,
    key,
    close: async () => {
      await gw.close();
      await provider.close();
    },
  };
}

/** One Anthropic stand-in (provider `claude`, serving `claude-test`) behind an in-process gateway, no retries. */
export interface OneProvider {
  readonly claude: StandIn;
  readonly gw: TestGateway;
  /** The model key of one agent allowed every model and granted `providerTools`. */
  readonly key: string;
  close(): Promise<void>;
}

export interface OneProviderOptions {
  /** More of `models` beside its providers: `prices`, `budgets`, `aliases`. */
  readonly models?: Record<string, unknown>;
  /** Provider tools the gateway allows and the agent is granted (`capabilities.models.provider_tools`). */
  readonly providerTools?: string[];
  /**
   * A second provider, `claude-backup`, on the same stand-in, and the alias `claude-failover`
   * (`claude-test` at `claude`, then `claude-backup`): a try failed at the first is failed over.
   */
  readonly backup?: boolean;
}

export async function oneProvider(agent: string, options: OneProviderOptions = {}): Promise<OneProvider> {
  const claude = await startStandIn('claude');
  const entry = (name: string) => ({
    name,
    kind: 'anthropic',
    base_url: claude.url,
    max_retries: 0,
    models: ['claude-test'],
  });
  const { aliases, ...models } = options.models ?? {};
  const failover = { 'claude-failover': { model: 'claude-test', providers: ['claude', 'claude-backup'] } };
  const gw = await startGateway({
    config: modelsConfig(
      {
        ...models,
        providers: options.backup === true ? [entry('claude'), entry('claude-backup')] : [entry('claude')],
        ...(aliases === undefined && options.backup !== true
          ? {}
          : {
              aliases: { ...(aliases as object | undefined), ...(options.backup === true ? failover : {}) },
            }),
      },
      ['*'],
      options.providerTools,
    ),
  });
  const { key } = await modelAgent(gw, agent, ['*'], {}, options.providerTools);
  await putProviderKey(gw, 'claude', `sk-${agent}-0123456789`, 'x-api-key');
  if (options.backup === true)
    await putProviderKey(gw, 'claude-backup', `sk-${agent}-0123456789`, 'x-api-key');
  return {
    claude,
    gw,
    key,
    close: async () => {
      await gw.close();
      await claude.close();
    },
  };
}

/**
 * Posts `body` to the gateway's `/v1/messages` as the agent of `key` (Anthropic's headers), and
 * reads the call's receipt once written: a whole answer's at its `OACP-Receipt` index, a stream's
 * (its final event sent only after it) the log's last, a moment later for the settlement to land.
 */
export async function messagesCall<P = Record<string, unknown>>(
  target: { readonly gw: TestGateway; readonly key: string },
  body: Record<string, unknown>,
): Promise<{ readonly status: number; readonly predicate: P; readonly verified: boolean }> {
  const answer = await request(new URL('/v1/messages', target.gw.url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': target.key,
      'anthropic-version': '2023-06-01',
    },
    body: JSON.stringify(body),
  });
  await answer.body.text();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const header = answer.headers['oacp-receipt'];
  const index = typeof header === 'string' ? Number(header) : target.gw.gateway.services.log.size - 1;
  const receipt = await receiptAt<P>(target.gw, index);
  return { status: answer.statusCode, predicate: receipt.predicate, verified: receipt.verified };
}

/** Two OpenAI stand-ins, `primary` and `backup`, behind an in-process gateway, no retries. */
export interface FailoverPair {
  readonly primary: StandIn;
  readonly backup: StandIn;
  readonly gw: TestGateway;
  /** The model key of one agent allowed every model. */
  readonly key: string;
  close(): Promise<void>;
}

/**
 * A failover pair: the alias `fast` (`gpt-upstream` at `primary`, then `backup`), both providers'
 * keys in the vault; `models` adds to `models` (`prices`, `budgets`, `breaker`, more `aliases`).
 */
export async function failoverPair(
  agent: string,
  models: Record<string, unknown> = {},
): Promise<FailoverPair> {
  const primary = await startStandIn('primary');
  const backup = await startStandIn('backup');
  const { aliases, ...rest } = models;
  const gw = await startGateway({
    config: modelsConfig({
      ...rest,
      providers: [
        { name: 'primary', kind: 'openai', base_url: `${primary.url}/v1`, max_retries: 0 },
        { name: 'backup', kind: 'openai', base_url: `${backup.url}/v1`, max_retries: 0 },
      ],
      aliases: {
        fast: { model: 'gpt-upstream', providers: ['primary', 'backup'] },
        ...(aliases as object | undefined),
      },
    }),
  });
  const { key } = await modelAgent(gw, agent, ['*']);
  for (const name of ['primary', 'backup']) await putProviderKey(gw, name, `sk-${agent}-0123456789`);
  return {
    primary,
    backup,
    gw,
    key,
    close: async () => {
      await gw.close();
      await Promise.all([primary.close(), backup.close()]);
    },
  };
}

/** Puts a provider's key in the vault, where the gateway injects it upstream (`authorization: Bearer …` by default). */
export async function putProviderKey(
  gw: TestGateway,
  provider: string,
  key: string,
  header: 'authorization' | 'x-api-key' = 'authorization',
): Promise<void> {
  await gw.gateway.services.credentials?.put({
    name: `${provider}-key`,
    agentId: MODEL_PROVIDER_KEYS,
    tool: `models/${provider}`,
    inject: { kind: 'header', name: header },
    value: header === 'authorization' ? `Bearer ${key}` : key,
  });
}

/** A whole Anthropic Messages answer of `claude-test` saying "hello", with `usage` as given (a stand-in's `rawAnswer`). */
export function anthropicMessage(usage: Record<string, unknown>): string {
  return JSON.stringify({
    id: 'm',
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content: [{ type: 'text', text: 'hello' }],
    stop_reason: 'end_turn',
    usage,
  });
}

/** One content block of an Anthropic stream: its content_block_start and a content_block_delta per delta. */
export interface AnthropicBlock {
  readonly block: Record<string, unknown>;
  readonly deltas: readonly Record<string, unknown>[];
}

const HELLO: AnthropicBlock = {
  block: { type: 'text', text: '' },
  deltas: [{ type: 'text_delta', text: 'hello' }],
};

/** One event of an Anthropic Messages stream. */
function anthropicEvent(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/**
 * An Anthropic Messages stream of one content block (saying "hello" unless `content` is given),
 * `start` the usage of message_start and `end` that of message_delta (a stand-in's `rawStream`).
 */
export function anthropicStream(
  start: Record<string, unknown>,
  end: Record<string, unknown>,
  content: AnthropicBlock = HELLO,
): string {
  return [
    anthropicEvent('message_start', {
      message: {
        id: 'm',
        type: 'message',
        role: 'assistant',
        model: 'claude-test',
        content: [],
        usage: start,
      },
    }),
    anthropicEvent('content_block_start', { index: 0, content_block: content.block }),
    ...content.deltas.map((delta) => anthropicEvent('content_block_delta', { index: 0, delta })),
    anthropicEvent('content_block_stop', { index: 0 }),
    anthropicEvent('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: end }),
    anthropicEvent('message_stop', {}),
  ].join('');
}

/** A receipt of the gateway's log: its predicate, and whether it verifies offline against the node's keys. */
export async function receiptAt<P = Record<string, unknown>>(
  gw: TestGateway,
  index: number,
): Promise<{ predicate: P; verified: boolean; text: string }> {
  const services = gw.gateway.services;
  const bytes = await services.log.entry(index);
  const text = Buffer.from(parseEnvelopeBytes(bytes).payload, 'base64').toString('utf8');
  const verified = verifyOffline({
    receipt: Buffer.from(bytes).toString('utf8'),
    proof: await services.log.proofFile(index),
    logKey: services.log.verifierKey,
    airlockKeys: [gw.gateway.node.keys.publicKeys().airlock.raw],
    witnessKeys: [],
  }).ok;
  return { predicate: JSON.parse(text).predicate as P, verified, text };
}

/** A gateway process on a fresh home (to kill -9 or stop with SIGTERM), one agent and its model key. */
export interface ModelChild {
  child: ChildGateway;
  readonly home: string;
  readonly admin: string;
  readonly agentId: string;
  readonly agentKey: string;
  /** Starts the gateway again on the same home (after the last one has exited). */
  restart(): Promise<ChildGateway>;
  /** Tokens taken from the agent's hourly bucket over its life, refunds subtracted (read from the store). */
  usedTokens(budget: number): Promise<number>;
}

export async function startModelChild(
  prefix: string,
  models: Record<string, unknown>,
  cleanup: Array<() => void | Promise<void>>,
  /** A shared store (postgres:// URL) instead of the home's gateway.db. */
  shared?: string,
): Promise<ModelChild> {
  const home = await freshHome(prefix);
  cleanup.push(home.remove);
  const config = join(home.home, 'oacp.yaml');
  const location = shared ?? defaultStorePath(home.home);
  writeFileSync(
    config,
    stringify({
      ...modelsConfig(models, []),
      ...(shared === undefined ? {} : { gateway: { store: shared } }),
    }),
  );
  const admin = shared === undefined ? await adminKey(home.home) : await sharedAdminKey(shared);
  const fixture: ModelChild = {
    child: await startChild(home.home, config, home.env),
    home: home.home,
    admin,
    agentId: '',
    agentKey: '',
    restart: async () => {
      fixture.child = await startChild(home.home, config, home.env);
      return fixture.child;
    },
    usedTokens: async (budget) => {
      const store = await openStore(location);
      try {
        const shape = { capacity: budget, refill: budget, windowMs: HOUR };
        const key = ModelBudget.key(fixture.agentId, 'llm_tokens_per_hour');
        return (await new StoreQuotaEngine(store).usage(key, shape)).used;
      } finally {
        await store.close();
      }
    },
  };
  cleanup.push(() => {
    fixture.child.process.kill('SIGKILL');
  });
  const agent = await new OacpClient({ baseUrl: fixture.child.url, apiKey: admin }).createAgent({
    name: 'spender',
    manifest: {
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name: 'spender',
      capabilities: { models: { allow: ['*'] } },
    },
  });
  const store = await openStore(location);
  try {
    const key = (await new ApiKeys({ store }).create({ scopes: ['models:call'], agentId: agent.id })).key;
    Object.assign(fixture, { agentId: agent.id, agentKey: key });
  } finally {
    await store.close();
  }
  return fixture;
}

async function sharedAdminKey(location: string): Promise<string> {
  const store = await openStore(location);
  try {
    return (await new ApiKeys({ store }).create({ scopes: ['admin'] })).key;
  } finally {
    await store.close();
  }
}

/** Each receipt in the home's log, in order: its outcome and the tokens its call had reserved. */
export async function receiptOutcomes(
  home: string,
): Promise<Array<{ readonly outcome: string; readonly reservedTokens: number }>> {
  const node = await OacpNode.open(home, { OACP_MASTER_KEY: '11'.repeat(32) }, { readOnly: true });
  try {
    const outcomes: Array<{ outcome: string; reservedTokens: number }> = [];
    for (let index = 0; index < node.log.size; index++) {
      const envelope = JSON.parse(Buffer.from(await node.log.entry(index)).toString('utf8'));
      const { predicate } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
      outcomes.push({ outcome: predicate.outcome, reservedTokens: predicate.usage.reservedTokens });
    }
    return outcomes;
  } finally {
    await node.close();
  }
}
