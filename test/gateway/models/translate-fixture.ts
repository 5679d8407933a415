import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelsConfig, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

/** A gateway with one stand-in of each wire format and an alias to each through the other format. */
export interface TranslateFixture {
  readonly gpt: StandIn;
  readonly claude: StandIn;
  readonly gw: TestGateway;
  openai(): OpenAI;
  anthropic(): Anthropic;
  receipt(index: number): Promise<{ predicate: Record<string, unknown>; verified: boolean }>;
  close(): Promise<void>;
}

export async function startTranslateFixture(quotas: Record<string, number> = {}): Promise<TranslateFixture> {
  const gpt = await startStandIn('gpt');
  const claude = await startStandIn('claude');
  const gw = await startGateway({
    config: modelsConfig({
      providers: [
        { name: 'gpt', kind: 'openai', base_url: `${gpt.url}/v1`, max_retries: 0, models: ['gpt-test'] },
        {
          name: 'claude',
          kind: 'anthropic',
          base_url: claude.url,
          max_retries: 0,
          models: ['claude-test'],
        },
      ],
      aliases: {
        'claude-via-openai': { model: 'claude-test', providers: ['claude'] },
        'gpt-via-anthropic': { model: 'gpt-test', providers: ['gpt'] },
      },
    }),
  });
  const agent = await gw.client.createAgent({
    name: 'translator',
    manifest: {
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name: 'translator',
      capabilities: { models: { allow: ['*'] } },
      quotas: { memory_mb: 16, ...quotas },
    },
  });
  const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
  return {
    gpt,
    claude,
    gw,
    openai: () => new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 }),
    anthropic: () => new Anthropic({ apiKey: key, baseURL: gw.url.href.replace(/\/$/, ''), maxRetries: 0 }),
    receipt: (index) => receiptAt(gw, index),
    async close() {
      await gw.close();
      await Promise.all([gpt.close(), claude.close()]);
    },
  };
}

/** The API error a call ends in; fails the test if the call succeeded. */
export async function failure(
  call: Promise<unknown>,
): Promise<{ status?: number; message: string; headers?: Headers }> {
  try {
    await call;
  } catch (error) {
    return error as { status?: number; message: string; headers?: Headers };
  }
  throw new Error('the call succeeded, a refusal was expected');
}
