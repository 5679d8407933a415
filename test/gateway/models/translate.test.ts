import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, startTranslateFixture, type TranslateFixture } from './translate-fixture.js';

describe('an alias served in the other wire format: OpenAI <-> Anthropic translation (stand-in providers)', () => {
  let fx: TranslateFixture;
  beforeAll(async () => {
    fx = await startTranslateFixture();
  }, 60_000);
  afterAll(async () => {
    await fx?.close();
  });
  const openai = () => fx.openai();
  const anthropic = () => fx.anthropic();
  const receipt = (index: number) => fx.receipt(index);

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
    const sent = fx.claude.received.at(-1);
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
    const sent = fx.gpt.received.at(-1);
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

  it('refuses, with a receipt and nothing sent, what it cannot translate: n > 1, server tools', async () => {
    const before = fx.claude.received.length;
    const many = await failure(
      openai().chat.completions.create({
        model: 'claude-via-openai',
        messages: [{ role: 'user', content: 'Hello' }],
        n: 2,
      }),
    );
    expect(many.status).toBe(400);
    expect(many.message).toMatch(/`n` other than 1 cannot be translated/);
    const beforeGpt = fx.gpt.received.length;
    const server = await failure(
      anthropic().messages.create({
        model: 'gpt-via-anthropic',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'Hello' }],
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      }),
    );
    expect(server.status).toBe(400);
    expect(server.message).toMatch(/tools\[0\]: only client tools/);
    expect(fx.claude.received.length).toBe(before);
    expect(fx.gpt.received.length).toBe(beforeGpt);
    const logged = await receipt(Number(server.headers?.get('oacp-receipt')));
    expect(logged.predicate).toMatchObject({ outcome: 'denied' });
    expect(logged.verified).toBe(true);
  });

  it('carries tools, tool calls and tool results from OpenAI to Anthropic and the call back', async () => {
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'get_weather',
          description: 'Weather of a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const first = await openai().chat.completions.create({
      model: 'claude-via-openai',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools,
      tool_choice: 'required',
      max_tokens: 50,
    });
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(call).toMatchObject({ id: 'toolu_standin', type: 'function', function: { name: 'get_weather' } });
    expect(JSON.parse(call?.type === 'function' ? call.function.arguments : '')).toEqual({ city: 'Paris' });
    expect(fx.claude.received.at(-1)?.body).toMatchObject({
      tools: [
        {
          name: 'get_weather',
          description: 'Weather of a city',
          input_schema: tools[0]?.function.parameters,
        },
      ],
      tool_choice: { type: 'any' },
    });
    await openai().chat.completions.create({
      model: 'claude-via-openai',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: first.choices[0]?.message.tool_calls ?? [] },
        { role: 'tool', tool_call_id: 'toolu_standin', content: 'sunny' },
      ],
      tools,
      max_tokens: 50,
    });
    expect(fx.claude.received.at(-1)?.body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_standin', name: 'get_weather', input: { city: 'Paris' } }],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_standin', content: 'sunny' }] },
    ]);
  });

  it('carries tools, tool_use and tool_result from Anthropic to OpenAI and the call back', async () => {
    const tools = [{ name: 'get_weather', input_schema: { type: 'object' as const, properties: {} } }];
    const first = await anthropic().messages.create({
      model: 'gpt-via-anthropic',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools,
      tool_choice: { type: 'tool', name: 'get_weather' },
    });
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content).toEqual([
      { type: 'tool_use', id: 'call_standin', name: 'get_weather', input: { city: 'Paris' } },
    ]);
    expect(fx.gpt.received.at(-1)?.body).toMatchObject({
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: tools[0]?.input_schema } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    await anthropic().messages.create({
      model: 'gpt-via-anthropic',
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_standin', content: 'sunny' }] },
      ],
      tools,
    });
    expect(fx.gpt.received.at(-1)?.body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_standin',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_standin', content: 'sunny' },
    ]);
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

  it('refuses tool call arguments that are not a JSON object, naming the field, before anything is sent', async () => {
    const before = fx.claude.received.length;
    const refused = await failure(
      openai().chat.completions.create({
        model: 'claude-via-openai',
        max_tokens: 10,
        messages: [
          { role: 'user', content: 'Hi' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '[1, 2' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        ],
      }),
    );
    expect(refused.status).toBe(400);
    expect(refused.message).toContain('messages[1].tool_calls[0].function.arguments must be a JSON object');
    expect(fx.claude.received.length).toBe(before);
  });
});
