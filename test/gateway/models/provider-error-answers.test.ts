import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startGateway, type TestGateway } from '../service/harness.js';
import { modelAgent, modelsConfig, putProviderKey, receiptAt } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const PROVIDER_KEY = 'sk-two-faced-provider-secret-0123456789';

interface Predicate {
  readonly outcome: string;
  readonly reason?: string;
  readonly costUsd?: number;
  readonly provider?: { name: string };
  readonly attempts: ReadonlyArray<{ provider: string; status: number; error?: string }>;
}

const CHOICES = `"choices":[{"index":0,"message":{"role":"assistant","content":"take me as the answer"},"finish_reason":"stop"}]`;

/**
 * Issue 14 (every effect one true receipt, secrets never in answers): a 200 whose body is a
 * provider's error, whatever else it carries (choices beside the error, Anthropic's type "error"
 * beside content, or no answer at all), is judged by schema as the error it is: a failed try,
 * failed over like a 5xx, a redacted 502 when no provider is left, and a receipt that lists every
 * try and states the cost (docs/receipts.md), on the fallback receipt too.
 */
describe('a provider that answers 200 with an error', () => {
  let primary: StandIn;
  let backup: StandIn;
  let claude: StandIn;
  let gw: TestGateway;
  let key: string;

  beforeAll(async () => {
    primary = await startStandIn('primary');
    backup = await startStandIn('backup');
    claude = await startStandIn('claude');
    gw = await startGateway({
      config: modelsConfig({
        providers: [
          { name: 'primary', kind: 'openai', base_url: `${primary.url}/v1`, max_retries: 0 },
          { name: 'backup', kind: 'openai', base_url: `${backup.url}/v1`, max_retries: 0 },
          {
            name: 'claude',
            kind: 'anthropic',
            base_url: claude.url,
            max_retries: 0,
            models: ['claude-test'],
          },
        ],
        aliases: { fast: { model: 'gpt-upstream', providers: ['primary', 'backup'] } },
        prices: {
          fast: { input_per_mtok: 1, output_per_mtok: 2 },
          'gpt-test': { input_per_mtok: 1, output_per_mtok: 2 },
          'claude-test': { input_per_mtok: 3, output_per_mtok: 15 },
        },
        // Failures here are the point; the breaker must not turn them into skips.
        breaker: { failures: 1000, cooldown_ms: 400 },
      }),
    });
    key = (await modelAgent(gw, 'judged', ['*'])).key;
    for (const name of ['primary', 'backup']) await putProviderKey(gw, name, PROVIDER_KEY);
    await putProviderKey(gw, 'claude', PROVIDER_KEY, 'x-api-key');
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await Promise.all([primary?.close(), backup?.close(), claude?.close()]);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  const call = (path: string, body: unknown) =>
    request(new URL(path, gw.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-api-key': key },
      body: JSON.stringify(body),
    });

  const chat = (model: string) =>
    call('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });

  it('attack: error AND choices in a 200 (the key quoted): not passed on, failed over to the next provider, both tries receipted', async () => {
    primary.queue({
      rawAnswer: `{"error":{"message":"Incorrect API key provided: Bearer ${PROVIDER_KEY}","type":"invalid_request_error"},${CHOICES}}`,
    });
    const before = gw.gateway.services.log.size;
    const answer = await chat('fast');
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(200);
    expect(text).not.toContain('take me as the answer');
    expect(text).not.toContain(PROVIDER_KEY);
    expect(JSON.parse(text).model).toBe('gpt-upstream-served-by-backup');
    const receipt = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate.outcome).toBe('ok');
    expect(receipt.predicate.provider?.name).toBe('backup');
    expect(receipt.predicate.attempts).toMatchObject([
      { provider: 'primary', status: 200, error: 'HTTP 200 with an error body' },
      { provider: 'backup', status: 200 },
    ]);
    expect(receipt.predicate.costUsd).toBeGreaterThan(0);
    expect(receipt.text).not.toContain(PROVIDER_KEY);
    expect(gw.gateway.services.log.size).toBe(before + 1);
  });

  it('attack: error AND choices at every provider: a redacted 502, a failed receipt with the tries and a cost of 0', async () => {
    const twoFaced = {
      rawAnswer: `{"error":{"message":"Incorrect API key provided: Bearer ${PROVIDER_KEY}"},${CHOICES}}`,
    };
    primary.queue(twoFaced);
    backup.queue(twoFaced);
    const answer = await chat('gpt-test');
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(502);
    expect(text).not.toContain('take me as the answer');
    expect(text).not.toContain(PROVIDER_KEY);
    expect(text).toContain('Incorrect API key provided');
    const receipt = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate.outcome).toBe('failed');
    expect(receipt.predicate.reason).toContain('HTTP 200 with an error body');
    expect(receipt.predicate.attempts).toMatchObject([
      { provider: 'primary', status: 200 },
      { provider: 'backup', status: 200 },
    ]);
    expect(receipt.predicate.costUsd).toBe(0);
    expect(receipt.text).not.toContain(PROVIDER_KEY);
  });

  it('attack: Anthropic type "error" beside content in a 200: a redacted 502 and a failed receipt, not the content', async () => {
    claude.queue({
      rawAnswer: `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key ${PROVIDER_KEY}"},"content":[{"type":"text","text":"take me as the answer"}],"role":"assistant"}`,
    });
    const answer = await call('/v1/messages', {
      model: 'claude-test',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(502);
    expect(text).not.toContain('take me as the answer');
    expect(text).not.toContain(PROVIDER_KEY);
    expect(JSON.parse(text)).toMatchObject({ type: 'error' });
    const receipt = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.predicate.outcome).toBe('failed');
    expect(receipt.predicate.attempts).toMatchObject([{ provider: 'claude', status: 200 }]);
    expect(receipt.predicate.costUsd).toBe(0);
  });

  it('attack: a 200 that is no answer at all ({"choices": "none"}) fails over like an error', async () => {
    primary.queue({ rawAnswer: '{"id":"x","choices":"none"}' });
    const answer = await chat('fast');
    await answer.body.text();
    expect(answer.statusCode).toBe(200);
    const receipt = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.predicate.attempts).toMatchObject([
      {
        provider: 'primary',
        status: 200,
        error: 'HTTP 200 with a body that is not a chat.completions answer',
      },
      { provider: 'backup', status: 200 },
    ]);
  });

  it('an error member that is null beside choices is an answer (what some providers send)', async () => {
    primary.queue({ rawAnswer: `{"id":"x","model":"gpt-test","error":null,${CHOICES}}` });
    const answer = await chat('gpt-test');
    expect(answer.statusCode).toBe(200);
    expect(await answer.body.text()).toContain('take me as the answer');
  });

  it('every provider fails (5xx): the failed receipt lists each try and states the cost (0: nothing was charged)', async () => {
    primary.queue('500');
    backup.queue('500');
    const answer = await chat('fast');
    await answer.body.text();
    expect(answer.statusCode).toBe(502);
    const receipt = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.predicate.outcome).toBe('failed');
    expect(receipt.predicate.attempts).toMatchObject([
      { provider: 'primary', status: 500 },
      { provider: 'backup', status: 500 },
    ]);
    expect(receipt.predicate.costUsd).toBe(0);
  });

  it('the fallback receipt (a clock step back while a failed-over call is out) keeps its tries and its cost', async () => {
    primary.queue('500');
    backup.queue('slow');
    const sent = backup.received.length;
    const pending = chat('fast');
    // While the backup has the call (it answers 1.5 s after), however long the failover took to reach it.
    await expect.poll(() => backup.received.length).toBeGreaterThan(sent);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
    const answer = await pending;
    const body = (await answer.body.json()) as { error: { message: string } };
    vi.useRealTimers();
    expect(answer.statusCode).toBe(502);
    expect(body.error.message).toContain("the call's receipt could not be built");
    const receipt = await receiptAt<Predicate>(gw, Number(answer.headers['oacp-receipt']));
    expect(receipt.verified).toBe(true);
    expect(receipt.predicate.outcome).toBe('failed');
    expect(receipt.predicate.attempts).toMatchObject([
      { provider: 'primary', status: 500 },
      { provider: 'backup', status: 200 },
    ]);
    expect(receipt.predicate.costUsd).toBeGreaterThan(0);
  });
});
