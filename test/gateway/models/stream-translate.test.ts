import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTranslateFixture, type TranslateFixture } from './translate-fixture.js';

const weather = {
  type: 'function' as const,
  function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
};

describe('streams translated between the OpenAI and Anthropic formats (official SDKs, stand-in providers)', () => {
  let fx: TranslateFixture;
  beforeAll(async () => {
    fx = await startTranslateFixture({ llm_tokens_per_request: 60 });
  }, 60_000);
  afterAll(async () => {
    await fx?.close();
  });

  const lastReceipt = () => fx.receipt(fx.gw.gateway.services.log.size - 1);

  it('streams an Anthropic answer to the OpenAI SDK: text, finish reason, usage in the last chunk', async () => {
    const stream = await fx.openai().chat.completions.create({
      model: 'claude-via-openai',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 20,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('The gateway relayed this answer from the stand-in provider.');
    expect(finish).toBe('stop');
    expect(usage).toEqual({ prompt_tokens: 11, completion_tokens: 10, total_tokens: 21 });
    expect(fx.claude.received.at(-1)?.body).toMatchObject({ stream: true, model: 'claude-test' });
    const logged = await lastReceipt();
    expect(logged.verified).toBe(true);
    expect(logged.predicate).toMatchObject({
      endpoint: 'chat.completions',
      stream: true,
      outcome: 'ok',
      provider: { name: 'claude', kind: 'anthropic' },
      usage: { inputTokens: 11, outputTokens: 10 },
    });
  });

  it('streams an OpenAI answer to the Anthropic SDK: message events, stop reason, usage in message_delta', async () => {
    const stream = fx.anthropic().messages.stream({
      model: 'gpt-via-anthropic',
      max_tokens: 4,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    const types: string[] = [];
    stream.on('streamEvent', (event) => types.push(event.type));
    const message = await stream.finalMessage();
    expect(message.content).toEqual(
      [{ type: 'text', text: 'The gateway relayed this', citations: null }].map(
        ({ citations: _, ...block }) => block,
      ),
    );
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toMatchObject({ input_tokens: 11, output_tokens: 4 });
    expect(types[0]).toBe('message_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(fx.gpt.received.at(-1)?.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 4,
    });
    const logged = await lastReceipt();
    expect(logged.verified).toBe(true);
    expect(logged.predicate).toMatchObject({ endpoint: 'messages', stream: true, outcome: 'ok' });
  });

  it('streams a tool call from an Anthropic provider as OpenAI tool_calls deltas', async () => {
    const stream = fx.openai().chat.completions.stream({
      model: 'claude-via-openai',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weather],
      max_tokens: 50,
    });
    const done = await stream.finalChatCompletion();
    const choice = done.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBe('Calling.');
    const call = choice?.message.tool_calls?.[0];
    expect(call).toMatchObject({ id: 'toolu_standin', type: 'function', function: { name: 'get_weather' } });
    expect(JSON.parse(call?.type === 'function' ? call.function.arguments : '')).toEqual({ city: 'Paris' });
  });

  it('streams a tool call from an OpenAI provider as an Anthropic tool_use block', async () => {
    const message = await fx
      .anthropic()
      .messages.stream({
        model: 'gpt-via-anthropic',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }],
      })
      .finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_standin', name: 'get_weather', input: { city: 'Paris' } },
    ]);
    expect(message.usage.output_tokens).toBe(12);
  });

  it('streams parallel tool calls whose fragments interleave as one tool_use block each', async () => {
    fx.gpt.queue('parallel-tools');
    const stream = fx.anthropic().messages.stream({
      model: 'gpt-via-anthropic',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Weather in Paris and Rome?' }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }],
    });
    const starts: number[] = [];
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_start') starts.push(e.index);
    });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('tool_use');
    // Without holding the second call, each switch would open a new block and split both arguments.
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_paris', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_rome', name: 'get_weather', input: { city: 'Rome' } },
    ]);
    expect(starts).toEqual([0, 1]);
  });

  it("cuts a translated stream at the budget with the OpenAI format's well-formed ending", async () => {
    fx.claude.queue('ignore-max-tokens');
    const stream = await fx.openai().chat.completions.create({
      model: 'claude-via-openai',
      messages: [{ role: 'user', content: 'go on forever' }],
      stream: true,
      // The usage chunk comes only to a client that asks for it (usage-chunk.test.ts).
      stream_options: { include_usage: true },
    });
    let finish: string | null | undefined;
    let stopped: unknown;
    let usage: { completion_tokens: number } | undefined;
    let words = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) words += 1;
      finish = chunk.choices[0]?.finish_reason ?? finish;
      const extra = chunk as unknown as { oacp?: unknown };
      if (extra.oacp) stopped = extra.oacp;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(finish).toBe('length');
    expect(stopped).toMatchObject({ stopped: 'budget' });
    expect(words).toBeLessThan(400);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeLessThanOrEqual(60);
    const logged = await lastReceipt();
    expect(logged.verified).toBe(true);
    expect(logged.predicate).toMatchObject({ outcome: 'cut', stream: true, provider: { kind: 'anthropic' } });
  });

  it("cuts a translated stream at the budget with the Anthropic format's well-formed ending", async () => {
    fx.gpt.queue('ignore-max-tokens');
    const stream = fx.anthropic().messages.stream({
      model: 'gpt-via-anthropic',
      max_tokens: 1000,
      messages: [{ role: 'user', content: 'go on forever' }],
    });
    let stopped: unknown;
    stream.on('streamEvent', (event) => {
      const extra = event as unknown as { oacp?: unknown };
      if (event.type === 'message_delta' && extra.oacp) stopped = extra.oacp;
    });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe('max_tokens');
    expect(stopped).toMatchObject({ stopped: 'budget' });
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeLessThanOrEqual(60);
    const logged = await lastReceipt();
    expect(logged.predicate).toMatchObject({ outcome: 'cut', stream: true, provider: { kind: 'openai' } });
  });

  it('ends a translated stream the provider breaks off with an error the SDK raises', async () => {
    fx.claude.queue('cut');
    const stream = await fx.openai().chat.completions.create({
      model: 'claude-via-openai',
      messages: [{ role: 'user', content: 'cut me' }],
      stream: true,
    });
    const drained = (async () => {
      for await (const _chunk of stream) {
        // drain
      }
    })();
    await expect(drained).rejects.toThrow(/broke off|stream/);
    expect((await lastReceipt()).predicate).toMatchObject({ outcome: 'failed' });
  });

  it('ends a translated stream whose provider sends garbage with an error event the Anthropic SDK raises', async () => {
    fx.gpt.queue('malformed');
    const stream = fx.anthropic().messages.stream({
      model: 'gpt-via-anthropic',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    await expect(stream.finalMessage()).rejects.toThrow(/not JSON/);
    expect((await lastReceipt()).predicate).toMatchObject({ outcome: 'failed', endpoint: 'messages' });
  });
});

describe("the stream cut settles on the provider's own count (a tokenizer that counts fewer tokens than o200k)", () => {
  let fx: TranslateFixture;
  beforeAll(async () => {
    fx = await startTranslateFixture();
  }, 60_000);
  afterAll(async () => {
    await fx?.close();
  });

  it("relays a whole answer that kept to max_tokens by the provider's count though o200k counts more", async () => {
    fx.gpt.queue('dense-tokens');
    const stream = await fx.openai().chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 10,
      stream: true,
    });
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    // Ten words of three o200k tokens each: 30 by the gateway's count, 10 by the provider's.
    expect(text).toBe(' Zzyzx'.repeat(10));
    expect(finish).toBe('stop');
    const logged = await fx.receipt(fx.gw.gateway.services.log.size - 1);
    expect(logged.predicate).toMatchObject({ outcome: 'ok', usage: { outputTokens: 10 } });
  });

  it('the same through the Anthropic format, and translated', async () => {
    fx.claude.queue('dense-tokens');
    const direct = await fx
      .anthropic()
      .messages.stream({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] })
      .finalMessage();
    expect(direct.stop_reason).toBe('end_turn');
    expect(direct.content[0]?.type === 'text' ? direct.content[0].text : '').toBe(' Zzyzx'.repeat(10));
    fx.gpt.queue('dense-tokens');
    const translated = await fx
      .anthropic()
      .messages.stream({
        model: 'gpt-via-anthropic',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .finalMessage();
    expect(translated.stop_reason).toBe('end_turn');
    expect(translated.usage.output_tokens).toBe(10);
  });
});
