import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelopeBytes } from '../../../src/attest/receipt.js';
import { verifyOffline } from '../../../src/verify/offline-verifier.js';
import { startGateway, type TestGateway } from '../service/harness.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

/** The API error a call ends in; fails the test if the call succeeded. */
async function failure(
  call: Promise<unknown>,
): Promise<{ status?: number; message: string; headers?: Headers }> {
  try {
    await call;
  } catch (error) {
    return error as { status?: number; message: string; headers?: Headers };
  }
  throw new Error('the call succeeded, a refusal was expected');
}

describe('an alias served in the other wire format: OpenAI <-> Anthropic translation (stand-in providers)', () => {
  let gpt: StandIn;
  let claude: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    gpt = await startStandIn('gpt');
    claude = await startStandIn('claude');
    gw = await startGateway({
      config: {
        sandbox: { capabilities: { tools: { allow: ['*'] }, models: { allow: ['*'] } } },
        models: {
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
        },
      },
    });
    const agent = await gw.client.createAgent({
      name: 'translator',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'translator',
        capabilities: { models: { allow: ['*'] } },
        quotas: { memory_mb: 16 },
      },
    });
    key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all([gpt?.close(), claude?.close()]);
  });

  const openai = () => new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
  const anthropic = () =>
    new Anthropic({ apiKey: key, baseURL: gw.url.href.replace(/\/$/, ''), maxRetries: 0 });

  async function receipt(index: number) {
    const services = gw.gateway.services;
    const bytes = await services.log.entry(index);
    const statement = JSON.parse(Buffer.from(parseEnvelopeBytes(bytes).payload, 'base64').toString('utf8'));
    const verified = verifyOffline({
      receipt: Buffer.from(bytes).toString('utf8'),
      proof: services.log.proofFile(index),
      logKey: services.log.verifierKey,
      airlockKeys: [gw.gateway.node.keys.publicKeys().airlock.raw],
      witnessKeys: [],
    }).ok;
    return { predicate: statement.predicate, verified };
  }

  it('carries an OpenAI chat request to an Anthropic provider and answers in the OpenAI format', async () => {
    const { data, response } = await openai()
      .chat.completions.create({
        model: 'claude-via-openai',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: [{ type: 'text', text: 'Hello' }] },
        ],
        max_tokens: 50,
        stop: 'END',
      })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.message.content).toContain('stand-in provider');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 10, total_tokens: 21 });
    const sent = claude.received.at(-1);
    expect(sent?.path).toBe('/v1/messages');
    expect(sent?.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent?.body).toMatchObject({
      model: 'claude-test',
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 50,
      stop_sequences: ['END'],
    });
    const logged = await receipt(Number(response.headers.get('oacp-receipt')));
    expect(logged.verified).toBe(true);
    expect(logged.predicate).toMatchObject({
      endpoint: 'chat.completions',
      provider: { name: 'claude', kind: 'anthropic' },
      model: { requested: 'claude-via-openai', served: 'claude-test-served-by-claude' },
      outcome: 'ok',
      usage: { inputTokens: 11, outputTokens: 10 },
    });
  });

  it('carries an Anthropic Messages request to an OpenAI-compatible provider and answers in the Anthropic format', async () => {
    const message = await anthropic().messages.create({
      model: 'gpt-via-anthropic',
      system: 'Be brief.',
      max_tokens: 3,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(message.type).toBe('message');
    expect(message.content[0]?.type === 'text' ? message.content[0].text : '').toBe('The gateway relayed');
    expect(message.usage).toMatchObject({ input_tokens: 11, output_tokens: 3 });
    expect(message.stop_reason).toBe('end_turn');
    const sent = gpt.received.at(-1);
    expect(sent?.path).toBe('/v1/chat/completions');
    expect(sent?.body).toMatchObject({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
      max_tokens: 3,
    });
  });

  it('refuses, with a receipt and nothing sent, what it cannot translate: streams and tools', async () => {
    const before = claude.received.length;
    const streamed = await failure(
      openai().chat.completions.create({
        model: 'claude-via-openai',
        messages: [{ role: 'user', content: 'Hello' }],
        stream: true,
      }),
    );
    expect(streamed.status).toBe(400);
    expect(streamed.message).toMatch(/streaming across formats is not built/);
    const tools = await failure(
      openai().chat.completions.create({
        model: 'claude-via-openai',
        messages: [{ role: 'user', content: 'Hello' }],
        tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
      }),
    );
    expect(tools.status).toBe(400);
    expect(tools.message).toMatch(/`tools` cannot be translated/);
    expect(claude.received.length).toBe(before);
    const logged = await receipt(Number(tools.headers?.get('oacp-receipt')));
    expect(logged.predicate).toMatchObject({ outcome: 'denied' });
    expect(logged.verified).toBe(true);
  });

  it('lists the aliases of the other format in both model lists', async () => {
    const ids = (await openai().models.list()).data.map((model) => model.id);
    expect(ids).toEqual(expect.arrayContaining(['claude-via-openai', 'gpt-via-anthropic', 'gpt-test']));
    expect(ids).not.toContain('claude-test');
  });

  it('does not carry embeddings to an Anthropic alias (404)', async () => {
    const refused = await failure(openai().embeddings.create({ model: 'claude-via-openai', input: 'x' }));
    expect(refused.status).toBe(404);
  });
});
