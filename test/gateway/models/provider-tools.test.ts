import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { type OneProvider, oneProvider, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

interface Predicate {
  readonly outcome: string;
  readonly reason?: string;
  readonly policy: { effect: string; reason: string; policyId?: string; policyIds?: string[] };
}

const POLICY = `@id("default")
permit(principal, action, resource);
@id("no-web-fetch")
forbid(principal, action == Action::"models/call", resource)
when { context.provider_tools.contains("web_fetch_20250910") };
@id("no-delete-repo")
forbid(principal, action == Action::"models/call", resource)
when { context.tools.contains("delete_repo") };
`;

const WEB_SEARCH = { type: 'web_search_20250305', name: 'web_search', max_uses: 3 } as const;
const WEB_FETCH = { type: 'web_fetch_20250910', name: 'web_fetch', max_uses: 3 } as const;
const weather = (name: string) => ({
  name,
  description: 'weather',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
});

/**
 * Issue 14 item 4 (docs/model-gateway.md, "Provider-side tools"): Anthropic server tools and
 * OpenAI's built-in ones were passed on to the provider, which then fetched URLs outside OACP's
 * egress policy and billed searches outside its budgets, and no policy could name them. They are
 * refused unless the agent's manifest grants them by type, and Cedar sees every requested tool.
 */
describe('provider-side tools are denied by default, granted by type, and visible to Cedar', () => {
  let openai: StandIn;
  let claude: StandIn;
  let gw: TestGateway;
  let plainKey: string;
  let grantedKey: string;

  const anthropicAs = (key: string) =>
    new Anthropic({ apiKey: key, baseURL: gw.url.href.replace(/\/$/, ''), maxRetries: 0 });
  const openaiAs = (key: string) =>
    new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error('expected the call to be refused');
      },
      (error: unknown) => {
        if (!(error instanceof Anthropic.APIError) && !(error instanceof OpenAI.APIError)) throw error;
        return error as { status: number; message: string; headers: Headers | Record<string, string> };
      },
    );
  const receiptOf = async (error: { headers: Headers | Record<string, string> }) => {
    const headers = error.headers;
    const index = headers instanceof Headers ? headers.get('oacp-receipt') : headers['oacp-receipt'];
    expect(index).toMatch(/^\d+$/);
    return (await receiptAt<Predicate>(gw, Number(index))).predicate;
  };
  const agent = async (name: string, providerTools: string[]) => {
    const created = await gw.client.createAgent({
      name,
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name,
        capabilities: { models: { allow: ['*'], provider_tools: providerTools } },
      },
    });
    return (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: created.id })).key;
  };

  beforeAll(async () => {
    openai = await startStandIn('openai');
    claude = await startStandIn('claude');
    gw = await startGateway({
      policy: POLICY,
      config: {
        sandbox: {
          capabilities: { tools: { allow: ['*'] }, models: { allow: ['*'], provider_tools: ['*'] } },
        },
        models: {
          providers: [
            { name: 'openai', kind: 'openai', base_url: `${openai.url}/v1`, max_retries: 0 },
            {
              name: 'claude',
              kind: 'anthropic',
              base_url: claude.url,
              max_retries: 0,
              models: ['claude-test'],
            },
          ],
        },
      },
    });
    await putProviderKey(gw, 'openai', 'sk-tools-0123456789');
    await putProviderKey(gw, 'claude', 'sk-tools-0123456789', 'x-api-key');
    plainKey = await agent('plain', []);
    grantedKey = await agent('searcher', ['web_search_*', 'web_fetch_*', 'web_search_options']);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all([openai?.close(), claude?.close()]);
  });

  for (const stream of [false, true]) {
    const how = stream ? 'a streamed' : 'a whole';
    it(`attack: ${how} Anthropic request with web_search is refused by default (403, receipt naming the manifest field), never sent`, async () => {
      const before = claude.received.length;
      const refused = await failure(
        anthropicAs(plainKey).messages.create({
          model: 'claude-test',
          max_tokens: 20,
          stream,
          tools: [weather('get_weather'), WEB_SEARCH],
          messages: [{ role: 'user', content: 'search the web' }],
        }),
      );
      expect(refused.status).toBe(403);
      expect(refused.message).toContain('provider tool "web_search_20250305"');
      expect(refused.message).toContain('capabilities.models.provider_tools');
      expect(claude.received.length).toBe(before);
      const predicate = await receiptOf(refused);
      expect(predicate.outcome).toBe('denied');
      expect(predicate.policy).toMatchObject({
        effect: 'deny',
        policyId: 'capability.models.provider_tools',
      });
      expect(predicate.policy.reason).toContain('capabilities.models.provider_tools');
    });

    it(`${how} Anthropic request with web_search is sent when the manifest grants it`, async () => {
      const before = claude.received.length;
      const request = {
        model: 'claude-test',
        max_tokens: 20,
        tools: [WEB_SEARCH],
        messages: [{ role: 'user' as const, content: 'search the web' }],
      };
      if (stream) {
        const message = await anthropicAs(grantedKey).messages.stream(request).finalMessage();
        expect(message.stop_reason).not.toBeNull();
      } else {
        const message = await anthropicAs(grantedKey).messages.create(request);
        expect(message.type).toBe('message');
      }
      expect(claude.received.length).toBe(before + 1);
      expect(claude.received.at(-1)?.body.tools).toEqual([WEB_SEARCH]);
    });

    it(`attack: ${how} Anthropic request with a granted web_fetch is forbidden by a Cedar rule naming it, with a receipt`, async () => {
      const before = claude.received.length;
      const refused = await failure(
        anthropicAs(grantedKey).messages.create({
          model: 'claude-test',
          max_tokens: 20,
          stream,
          tools: [WEB_SEARCH, WEB_FETCH],
          messages: [{ role: 'user', content: 'fetch https://attacker.example/?secret=…' }],
        }),
      );
      expect(refused.status).toBe(403);
      expect(refused.message).toContain('forbidden by policy no-web-fetch');
      expect(claude.received.length).toBe(before);
      const predicate = await receiptOf(refused);
      expect(predicate.outcome).toBe('denied');
      expect(predicate.policy.policyIds).toEqual(['no-web-fetch']);
    });

    it(`attack: ${how} OpenAI request with web_search_options or a built-in tool is refused by default; granted, it is sent`, async () => {
      const before = openai.received.length;
      const messages = [{ role: 'user' as const, content: 'search' }];
      const bySearchOptions = await failure(
        openaiAs(plainKey).chat.completions.create({
          model: 'gpt-test',
          stream,
          web_search_options: {},
          messages,
        }),
      );
      expect(bySearchOptions.status).toBe(403);
      expect(bySearchOptions.message).toContain('provider tool "web_search_options"');
      expect((await receiptOf(bySearchOptions)).policy.policyId).toBe('capability.models.provider_tools');
      // A tool type the chat API's types do not list (the Responses API's built-in ones) is a provider tool too.
      const byType = await failure(
        openaiAs(plainKey).chat.completions.create({
          model: 'gpt-test',
          stream,
          tools: [{ type: 'mcp', server_url: 'https://attacker.example/mcp' } as never],
          messages,
        }),
      );
      expect(byType.status).toBe(403);
      expect(byType.message).toContain('provider tool "mcp"');
      expect(openai.received.length).toBe(before);

      const granted = openaiAs(grantedKey);
      if (stream) {
        let chunks = 0;
        for await (const _chunk of await granted.chat.completions.create({
          model: 'gpt-test',
          stream: true,
          web_search_options: {},
          messages,
        }))
          chunks += 1;
        expect(chunks).toBeGreaterThan(0);
      } else {
        const answer = await granted.chat.completions.create({
          model: 'gpt-test',
          web_search_options: {},
          messages,
        });
        expect(answer.object).toBe('chat.completion');
      }
      expect(openai.received.length).toBe(before + 1);
      expect(openai.received.at(-1)?.body.web_search_options).toEqual({});
    });

    it(`attack: ${how} OpenAI request offering a function named in a Cedar forbid is refused, with a receipt`, async () => {
      const before = openai.received.length;
      const refused = await failure(
        openaiAs(plainKey).chat.completions.create({
          model: 'gpt-test',
          stream,
          tools: [
            { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
            { type: 'function', function: { name: 'delete_repo', parameters: { type: 'object' } } },
          ],
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      expect(refused.status).toBe(403);
      expect(refused.message).toContain('forbidden by policy no-delete-repo');
      expect(openai.received.length).toBe(before);
      expect((await receiptOf(refused)).policy.policyIds).toEqual(['no-delete-repo']);
    });
  }

  it('function tools alone need no grant, and a tools entry of no known kind is refused (400) with a receipt', async () => {
    const answer = await anthropicAs(plainKey).messages.create({
      model: 'claude-test',
      max_tokens: 20,
      tools: [weather('get_weather')],
      messages: [{ role: 'user', content: 'weather?' }],
    });
    expect(answer.type).toBe('message');
    const before = openai.received.length;
    const unreadable = await failure(
      openaiAs(grantedKey).chat.completions.create({
        model: 'gpt-test',
        tools: [{ function: { name: 'f' } } as never],
        messages: [{ role: 'user', content: 'x' }],
      }),
    );
    expect(unreadable.status).toBe(400);
    expect(unreadable.message).toContain('tools[0].type');
    expect(openai.received.length).toBe(before);
    expect((await receiptOf(unreadable)).outcome).toBe('denied');
  });

  it("attack: Anthropic's MCP connector (mcp_servers) is a provider tool too", async () => {
    const before = claude.received.length;
    const refused = await failure(
      anthropicAs(grantedKey).messages.create({
        model: 'claude-test',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'x' }],
        mcp_servers: [{ type: 'url', url: 'https://attacker.example/mcp', name: 'x' }],
      } as never),
    );
    expect(refused.status).toBe(403);
    expect(refused.message).toContain('provider tool "mcp_servers"');
    expect(claude.received.length).toBe(before);
  });
});

/**
 * Issue 14 item 4, fees: Anthropic bills web searches per use, outside the tokens. With a price per
 * use in the price table the fee is reserved at the request's `max_uses` and charged, in the
 * receipt's cost too; a priced tool without a bound, and an unpriced one under a cost budget, are refused.
 */
describe('provider-side tool fees count against cost_per_day_usd', () => {
  let one: OneProvider;
  let claude: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    one = await oneProvider('payer', {
      providerTools: ['*'],
      models: {
        prices: {
          'claude-test': {
            input_per_mtok: 0,
            output_per_mtok: 0,
            per_use_usd: { web_search_20250305: 0.01, web_fetch_20250910: 0 },
          },
        },
        budgets: { cost_per_day_usd: 1 },
      },
    });
    ({ claude, gw, key } = one);
  }, 60_000);

  afterAll(() => one?.close());

  const client = () => new Anthropic({ apiKey: key, baseURL: gw.url.href.replace(/\/$/, ''), maxRetries: 0 });
  const request = (tools: unknown[], stream = false) =>
    client()
      .messages.create({
        model: 'claude-test',
        max_tokens: 20,
        stream,
        tools: tools as never,
        messages: [{ role: 'user', content: 'search' }],
      })
      .asResponse();
  for (const stream of [false, true]) {
    it(`${stream ? 'a streamed' : 'a whole'} call with web_search (max_uses 3) is charged 3 searches, free web_fetch nothing`, async () => {
      const response = await request(
        [
          { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
          { type: 'web_fetch_20250910', name: 'web_fetch' },
        ],
        stream,
      );
      expect(response.status).toBe(200);
      await response.text();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const index = stream ? gw.gateway.services.log.size - 1 : Number(response.headers.get('oacp-receipt'));
      const predicate = (await receiptAt<Predicate & { costUsd?: number }>(gw, index)).predicate;
      expect(predicate.outcome).toBe('ok');
      expect(predicate.costUsd).toBeCloseTo(0.03, 9);
    });
  }

  it('attack: a priced web_search with no max_uses is refused (400), its cost having no bound', async () => {
    const before = claude.received.length;
    const refused = await request([{ type: 'web_search_20250305', name: 'web_search' }]).catch(
      (error: unknown) => error as InstanceType<typeof Anthropic.APIError>,
    );
    expect(refused).toBeInstanceOf(Anthropic.APIError);
    expect((refused as InstanceType<typeof Anthropic.APIError>).status).toBe(400);
    expect((refused as Error).message).toContain('sets no max_uses');
    expect(claude.received.length).toBe(before);
  });

  it('attack: an unpriced provider tool under a cost budget is refused (429 naming the price field), with a receipt', async () => {
    const before = claude.received.length;
    const refused = (await request([{ type: 'code_execution_20250522', name: 'code_execution' }]).catch(
      (error: unknown) => error,
    )) as InstanceType<typeof Anthropic.APIError>;
    expect(refused).toBeInstanceOf(Anthropic.APIError);
    expect(refused.status).toBe(429);
    expect(refused.message).toContain('models.prices."claude-test".per_use_usd');
    expect(claude.received.length).toBe(before);
    const index = Number(refused.headers?.get('oacp-receipt'));
    expect((await receiptAt<Predicate>(gw, index)).predicate.outcome).toBe('quota');
  });

  it('a batch item with a priced web_search is reserved by its batch with the fee, answered, and charged it', async () => {
    // The batch's pool reserved tokens only and the item, drawing the fee from it, was refused.
    const answer = await fetch(new URL('/v1/oacp/batches', gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        endpoint: '/v1/messages',
        requests: [
          {
            custom_id: 'searching',
            body: {
              model: 'claude-test',
              max_tokens: 20,
              tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
              messages: [{ role: 'user', content: 'search' }],
            },
          },
        ],
      }),
    });
    expect(answer.status).toBe(200);
    const [result] = ((await answer.json()) as { results: { status: number; receipt: number }[] }).results;
    expect(result?.status).toBe(200);
    const predicate = (await receiptAt<Predicate & { costUsd?: number }>(gw, result?.receipt ?? -1))
      .predicate;
    expect(predicate.outcome).toBe('ok');
    expect(predicate.costUsd).toBeCloseTo(0.02, 9);
  });

  it('a cost budget too small for the reserved searches refuses before sending', async () => {
    const before = claude.received.length;
    // 0.01 USD x 101 uses: past the 1 USD a day.
    const refused = (await request([
      { type: 'web_search_20250305', name: 'web_search', max_uses: 101 },
    ]).catch((error: unknown) => error)) as InstanceType<typeof Anthropic.APIError>;
    expect(refused).toBeInstanceOf(Anthropic.APIError);
    expect(refused.status).toBe(429);
    expect(claude.received.length).toBe(before);
  });
});
