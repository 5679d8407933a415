import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropicMessage, modelAgent, receiptAt, type TwoProviders, twoProviders } from './model-fixture.js';

interface Predicate {
  readonly outcome: string;
  readonly costUsd?: number;
  readonly serviceTier?: { requested?: string; served?: string; multiplier: number };
}

/** 1 USD per Mtok in, 2 out: 100 in and 100 out cost 300 micro-USD at the standard tier. */
const STANDARD_MICROS = 300;
const usage = { prompt_tokens: 100, completion_tokens: 100, total_tokens: 200 };
const completion = (tier: string | undefined) =>
  JSON.stringify({
    id: 'c',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-test',
    ...(tier === undefined ? {} : { service_tier: tier }),
    choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
    usage,
  });
const chunks = (tier: string) =>
  [
    { choices: [{ index: 0, delta: { role: 'assistant', content: 'hello' }, finish_reason: null }] },
    { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
    { choices: [], usage },
  ]
    .map(
      (chunk) =>
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-test', service_tier: tier, ...chunk })}\n\n`,
    )
    .join('')
    .concat('data: [DONE]\n\n');

/**
 * Issue 14 item 4 (docs/model-gateway.md, "Service tiers"): OpenAI's `flex` and `priority` tiers and
 * Anthropic's `priority` change what a call costs, and the gateway charged every call at the
 * standard price whatever tier served it. The price table now has a multiplier per tier; a call
 * reserves at the dearest tier it may be served at, settles at the tier the answer names, and a
 * request pinning a tier the table does not price is refused.
 */
describe('service tiers are priced from the answer, and an unpriced tier is refused', () => {
  let providers: TwoProviders;

  beforeAll(async () => {
    providers = await twoProviders(
      'tiered',
      {},
      {
        prices: {
          'gpt-test': { input_per_mtok: 1, output_per_mtok: 2, service_tiers: { flex: 0.5, priority: 2 } },
          'claude-test': { input_per_mtok: 1, output_per_mtok: 2, service_tiers: { priority: 1.5 } },
        },
        budgets: { cost_per_day_usd: 0.003 },
      },
    );
  }, 60_000);

  afterAll(() => providers?.close());

  const openai = (key = providers.key) =>
    new OpenAI({ apiKey: key, baseURL: new URL('/v1', providers.gw.url).href, maxRetries: 0 });
  const anthropic = () =>
    new Anthropic({
      apiKey: providers.key,
      baseURL: providers.gw.url.href.replace(/\/$/, ''),
      maxRetries: 0,
    });
  const receipt = async (index: number) => {
    const read = await receiptAt<Predicate>(providers.gw, index);
    expect(read.verified).toBe(true);
    return read.predicate;
  };
  const chat = async (tier: string | undefined, key?: string, maxTokens = 16) => {
    const { response } = await openai(key)
      .chat.completions.create({
        model: 'gpt-test',
        max_tokens: maxTokens,
        ...(tier === undefined ? {} : { service_tier: tier as 'flex' }),
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse();
    return receipt(Number(response.headers.get('oacp-receipt')));
  };

  for (const [tier, multiplier] of [
    ['flex', 0.5],
    ['priority', 2],
  ] as const) {
    it(`attack: an OpenAI call served at ${tier} costs ${multiplier} times the standard price, as its receipt says`, async () => {
      providers.openai.queue({ rawAnswer: completion(tier) });
      const predicate = await chat(tier);
      expect(predicate.outcome).toBe('ok');
      expect(predicate.serviceTier).toEqual({ requested: tier, served: tier, multiplier });
      expect(predicate.costUsd).toBeCloseTo((STANDARD_MICROS * multiplier) / 1e6, 9);
      expect(providers.openai.received.at(-1)?.body.service_tier).toBe(tier);
    });
  }

  it('a flex stream is settled at the tier its chunks name', async () => {
    providers.openai.queue({ rawStream: chunks('flex') });
    const stream = await openai().chat.completions.create({
      model: 'gpt-test',
      max_tokens: 16,
      stream: true,
      service_tier: 'flex',
      messages: [{ role: 'user', content: 'hi' }],
    });
    for await (const _chunk of stream) {
      // read to the end: the receipt is written before the last event
    }
    const predicate = await receipt(providers.gw.gateway.services.log.size - 1);
    expect(predicate.serviceTier).toEqual({ requested: 'flex', served: 'flex', multiplier: 0.5 });
    expect(predicate.costUsd).toBeCloseTo((STANDARD_MICROS * 0.5) / 1e6, 9);
  });

  it('attack: an Anthropic call left to the provider (auto) and served at priority costs the priority price', async () => {
    for (const [served, multiplier] of [
      ['priority', 1.5],
      ['standard', 1],
    ] as const) {
      providers.claude.queue({
        rawAnswer: anthropicMessage({ input_tokens: 100, output_tokens: 100, service_tier: served }),
      });
      const { response } = await anthropic()
        .messages.create({
          model: 'claude-test',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'hi' }],
        })
        .withResponse();
      const predicate = await receipt(Number(response.headers.get('oacp-receipt')));
      expect(predicate.serviceTier).toEqual({ served, multiplier });
      expect(predicate.costUsd).toBeCloseTo((STANDARD_MICROS * multiplier) / 1e6, 9);
    }
  });

  it('attack: a request pinning a tier the price table has no multiplier for is refused (400 naming the field), never sent', async () => {
    const before = providers.openai.received.length;
    const refused = await openai()
      .chat.completions.create({
        model: 'gpt-test',
        max_tokens: 16,
        service_tier: 'scale',
        messages: [{ role: 'user', content: 'hi' }],
      })
      .withResponse()
      .then(
        () => undefined,
        (error: unknown) => error as InstanceType<typeof OpenAI.APIError>,
      );
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused?.status).toBe(400);
    expect(refused?.message).toContain('models.prices."gpt-test".service_tiers');
    expect(providers.openai.received.length).toBe(before);
    const predicate = await receipt(Number(refused?.headers?.get('oacp-receipt')));
    expect(predicate.outcome).toBe('denied');
  });

  it('attack: the reservation is at the dearest tier the request may get: priority is refused where default fits', async () => {
    // 1,000 output tokens at 2 USD per Mtok: about 0.002 USD at the standard price, 0.004 at priority (2x), over 0.003.
    const { key } = await modelAgent(providers.gw, 'tier-budget', ['*']);
    const refused = await chat('priority', key, 1000).then(
      () => undefined,
      (error: unknown) => error as InstanceType<typeof OpenAI.APIError>,
    );
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused?.status).toBe(429);
    // Left to the provider (auto), the call may be served at priority too.
    const unpinned = await chat(undefined, key, 1000).then(
      () => undefined,
      (error: unknown) => error as InstanceType<typeof OpenAI.APIError>,
    );
    expect(unpinned?.status).toBe(429);
    providers.openai.queue({ rawAnswer: completion('default') });
    const pinned = await chat('default', key, 1000);
    expect(pinned.outcome).toBe('ok');
    expect(pinned.serviceTier).toEqual({ requested: 'default', served: 'default', multiplier: 1 });
  });
});
