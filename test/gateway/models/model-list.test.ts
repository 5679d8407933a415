import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

/**
 * Issue 14 (the agent sees what it may call): `GET /v1/models` listed every configured model and
 * alias to every agent, those its manifest refuses included. It lists the callable ones only.
 */
describe('GET /v1/models through the official SDKs', () => {
  let provider: StandIn;
  let gw: TestGateway;

  beforeAll(async () => {
    provider = await startStandIn('listed');
    gw = await startGateway({
      config: modelsConfig({
        providers: [
          { name: 'oa', kind: 'openai', base_url: `${provider.url}/v1`, models: ['gpt-cheap', 'gpt-secret'] },
          {
            name: 'an',
            kind: 'anthropic',
            base_url: provider.url,
            models: ['claude-cheap', 'claude-secret'],
          },
        ],
        aliases: { 'internal-only': { model: 'gpt-secret', providers: ['oa'] } },
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  it('attack: an agent allowed gpt-cheap and claude-cheap asks for the list: models and aliases it may not call are not in it, in either format', async () => {
    const { key } = await modelAgent(gw, 'frugal', ['gpt-cheap', 'claude-cheap']);
    const openai = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    expect((await openai.models.list()).data.map((model) => model.id)).toEqual(['gpt-cheap']);
    const anthropic = new Anthropic({ apiKey: key, baseURL: gw.url.href.replace(/\/$/, ''), maxRetries: 0 });
    expect((await anthropic.models.list()).data.map((model) => model.id)).toEqual(['claude-cheap']);
    // What is refused in the list is refused when called.
    await expect(
      openai.chat.completions.create({ model: 'internal-only', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('an agent allowed every model sees every one', async () => {
    const { key } = await modelAgent(gw, 'open', ['*']);
    const openai = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    expect((await openai.models.list()).data.map((model) => model.id).sort()).toEqual([
      'gpt-cheap',
      'gpt-secret',
      'internal-only',
    ]);
  });
});
