import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raw, startGateway, type TestGateway } from '../service/harness.js';
import { modelsConfig } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const BUDGET = 1000;

/** The value of one sample in a Prometheus text exposition, labels matched exactly (any order). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const wanted = Object.entries(labels);
    if (Object.keys(found).length === wanted.length && wanted.every(([k, v]) => found[k] === v))
      return Number(match[3]);
  }
  return undefined;
}

describe('model gateway observability: /metrics after real calls, gen_ai spans', () => {
  let provider: StandIn;
  let gw: TestGateway;
  let exporter: InMemorySpanExporter;
  let client: OpenAI;
  let auditKey: string;

  beforeAll(async () => {
    provider = await startStandIn('obs');
    exporter = new InMemorySpanExporter();
    gw = await startGateway({
      tracing: { exporter, batchDelayMs: 20 },
      config: modelsConfig({
        providers: [{ name: 'obs', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: BUDGET },
      }),
    });
    const agent = await gw.client.createAgent({
      name: 'watched',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'watched',
        capabilities: { models: { allow: ['gpt-test'] } },
        quotas: { memory_mb: 16 },
      },
    });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    auditKey = await gw.keyWith(['audit:read']);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await provider?.close();
  });

  const metrics = async () =>
    (await raw(gw.url, '/metrics', { headers: { authorization: `Bearer ${auditKey}` } })).text;

  it('counts tokens by agent, model and kind, times each call by outcome, and gauges the budget left', async () => {
    const started = Date.now();
    const plain = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'count me' }],
      max_tokens: 4,
    });
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'stream me' }],
      max_tokens: 2,
      stream: true,
    });
    for await (const _ of stream) {
      // drained: the stream settles and is receipted at its end
    }
    await expect(
      client.chat.completions.create({ model: 'gpt-other', messages: [{ role: 'user', content: 'no' }] }),
    ).rejects.toMatchObject({ status: 403 });

    const served = plain.model;
    expect(served).toBe('gpt-test-served-by-obs');
    const text = await metrics();
    // The stand-in reports 11 prompt tokens and one completion token per word, up to max_tokens
    // ("The gateway" is two tokens by the gateway's own count too, so the stream is not cut).
    expect(sample(text, 'oacp_llm_tokens_total', { agent: 'watched', model: served, kind: 'input' })).toBe(
      22,
    );
    expect(sample(text, 'oacp_llm_tokens_total', { agent: 'watched', model: served, kind: 'output' })).toBe(
      6,
    );
    const ok = { provider: 'obs', model: 'gpt-test', outcome: 'ok' };
    expect(sample(text, 'oacp_llm_request_duration_seconds_count', ok)).toBe(2);
    expect(sample(text, 'oacp_llm_request_duration_seconds_sum', ok)).toBeGreaterThan(0);
    expect(sample(text, 'oacp_llm_request_duration_seconds_bucket', { ...ok, le: '+Inf' })).toBe(2);
    expect(
      sample(text, 'oacp_llm_request_duration_seconds_count', {
        provider: 'none',
        model: 'gpt-other',
        outcome: 'denied',
      }),
    ).toBe(1);
    // The hourly budget refills continuously (one token per 3.6 s here): a slow run may see what
    // refilled since the first call, never less than the 28 tokens charged.
    // The gauge is read after each settlement, which the answers do not wait for: poll until the
    // last one has been counted.
    const gauge = async () =>
      sample(await metrics(), 'oacp_llm_budget_remaining_tokens', { agent: 'watched' });
    await expect
      .poll(gauge, { timeout: 10_000 })
      .toBeLessThanOrEqual(BUDGET - 28 + Math.ceil(((Date.now() - started) / 3_600_000) * BUDGET));
    const left = await gauge();
    const refilled = Math.ceil(((Date.now() - started) / 3_600_000) * BUDGET);
    expect(left).toBeGreaterThanOrEqual(BUDGET - 28);
    expect(left).toBeLessThanOrEqual(BUDGET - 28 + refilled);
    expect(sample(text, 'oacp_llm_breaker_open', { provider: 'obs' })).toBe(0);
  });

  it('exports one span per call with the GenAI semantic convention attributes', async () => {
    // Spans of the calls before are exported in batches: flush them first, or one can land after the reset.
    await gw.gateway.services.tracing.flush();
    exporter.reset();
    await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'trace me' }],
      max_tokens: 3,
    });
    await gw.gateway.services.tracing.flush();
    const spans = exporter.getFinishedSpans();
    const chat = spans.find((span) => span.name === 'chat gpt-test') as ReadableSpan;
    expect(chat).toBeDefined();
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-test',
      'gen_ai.request.max_tokens': 3,
      'gen_ai.response.model': 'gpt-test-served-by-obs',
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 3,
      'oacp.agent': 'watched',
      'oacp.provider': 'obs',
    });
    // A child of the request's HTTP span, in the same trace.
    const parentId = chat.parentSpanContext?.spanId;
    const parent = spans.find((span) => span.spanContext().spanId === parentId);
    expect(parent?.spanContext().traceId).toBe(chat.spanContext().traceId);
    expect(JSON.stringify(chat.attributes)).not.toContain('trace me');
  });
});
