import type { ProviderKind } from './dialect.js';
import { isRecord, type Json, parseArguments, textOf, UntranslatableRequest } from './translate-parts.js';

export { isErrorBody } from './answer-shape.js';
export { providerErrorMessage, translateAnswer } from './translate-answer.js';
export { UntranslatableRequest } from './translate-parts.js';

/** Sampling fields both formats share, by their names on each side. */
function sampling(body: Json, stopFrom: string, stopTo: string): Json {
  const out: Json = {};
  for (const key of ['temperature', 'top_p'] as const) if (body[key] !== undefined) out[key] = body[key];
  const stop = body[stopFrom];
  if (stop !== undefined) out[stopTo] = typeof stop === 'string' ? [stop] : stop;
  return out;
}

/** OpenAI function tools as Anthropic tools. */
function toolsToAnthropic(tools: unknown): Json[] {
  if (!Array.isArray(tools)) throw new UntranslatableRequest('`tools` must be a list');
  return tools.map((tool, i) => {
    const fn =
      isRecord(tool) && tool.type === 'function' && isRecord(tool.function) ? tool.function : undefined;
    if (fn === undefined || typeof fn.name !== 'string')
      throw new UntranslatableRequest(`tools[${i}]: only function tools with a name can be translated`);
    return {
      name: fn.name,
      ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
      input_schema: isRecord(fn.parameters) ? fn.parameters : { type: 'object', properties: {} },
    };
  });
}

function toolChoiceToAnthropic(choice: unknown, parallel: unknown): Json | undefined {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallel === false ? { type: 'auto', ...noParallel } : undefined;
  if (choice === 'auto') return { type: 'auto', ...noParallel };
  if (choice === 'required') return { type: 'any', ...noParallel };
  if (choice === 'none') return { type: 'none' };
  if (isRecord(choice) && isRecord(choice.function) && typeof choice.function.name === 'string')
    return { type: 'tool', name: choice.function.name, ...noParallel };
  throw new UntranslatableRequest('`tool_choice` must be auto, required, none or a named function');
}

/** An OpenAI assistant message (text and tool calls) as Anthropic content blocks. */
function assistantToAnthropic(message: Json, where: string): Json {
  const blocks: Json[] = [];
  const text =
    message.content === null || message.content === undefined ? '' : textOf(message.content, where);
  if (text !== '') blocks.push({ type: 'text', text });
  if (message.tool_calls !== undefined) {
    if (!Array.isArray(message.tool_calls))
      throw new UntranslatableRequest(`${where}.tool_calls must be a list`);
    message.tool_calls.forEach((call, j) => {
      const fn = isRecord(call) && isRecord(call.function) ? call.function : undefined;
      if (fn === undefined || typeof call.id !== 'string' || typeof fn.name !== 'string')
        throw new UntranslatableRequest(`${where}.tool_calls[${j}] needs an id and a function name`);
      blocks.push({
        type: 'tool_use',
        id: call.id,
        name: fn.name,
        input: parseArguments(fn.arguments, `${where}.tool_calls[${j}].function.arguments`),
      });
    });
  }
  const only = blocks[0];
  return { role: 'assistant', content: blocks.length === 1 && only?.type === 'text' ? only.text : blocks };
}

/** An OpenAI Chat Completions request as an Anthropic Messages request (text and function tools). */
function openAiToAnthropic(body: Json): Json {
  if (body.n !== undefined && body.n !== 1)
    throw new UntranslatableRequest('`n` other than 1 cannot be translated');
  for (const field of ['functions', 'function_call', 'response_format', 'logprobs', 'audio'] as const) {
    if (body[field] !== undefined)
      throw new UntranslatableRequest(`\`${field}\` cannot be translated to Anthropic`);
  }
  if (!Array.isArray(body.messages)) throw new UntranslatableRequest('`messages` must be a list');
  const system: string[] = [];
  const messages: Json[] = [];
  body.messages.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isRecord(message)) throw new UntranslatableRequest(`${where} must be an object`);
    if (message.role === 'system' || message.role === 'developer')
      system.push(textOf(message.content, where));
    else if (message.role === 'user')
      messages.push({ role: 'user', content: textOf(message.content, where) });
    else if (message.role === 'assistant') messages.push(assistantToAnthropic(message, where));
    else if (message.role === 'tool') {
      if (typeof message.tool_call_id !== 'string')
        throw new UntranslatableRequest(`${where}.tool_call_id must be a string`);
      const result = {
        type: 'tool_result',
        tool_use_id: message.tool_call_id,
        content: textOf(message.content, where),
      };
      // Consecutive tool answers are one user turn of tool_result blocks, as Anthropic expects.
      const last = messages.at(-1);
      if (
        last?.role === 'user' &&
        Array.isArray(last.content) &&
        last.content.every((b) => isRecord(b) && b.type === 'tool_result')
      )
        (last.content as Json[]).push(result);
      else messages.push({ role: 'user', content: [result] });
    } else throw new UntranslatableRequest(`${where}: role "${String(message.role)}" cannot be translated`);
  });
  const choice = toolChoiceToAnthropic(body.tool_choice, body.parallel_tool_calls);
  return {
    model: body.model,
    messages,
    ...(system.length === 0 ? {} : { system: system.join('\n\n') }),
    ...sampling(body, 'stop', 'stop_sequences'),
    ...(body.tools === undefined ? {} : { tools: toolsToAnthropic(body.tools) }),
    ...(choice === undefined ? {} : { tool_choice: choice }),
  };
}

function toolsToOpenAi(tools: unknown): Json[] {
  if (!Array.isArray(tools)) throw new UntranslatableRequest('`tools` must be a list');
  return tools.map((tool, i) => {
    // Anthropic's server tools (web search, code execution...) carry a `type`: nothing to map them to.
    if (
      !isRecord(tool) ||
      typeof tool.name !== 'string' ||
      (tool.type !== undefined && tool.type !== 'custom')
    )
      throw new UntranslatableRequest(
        `tools[${i}]: only client tools with a name and input_schema can be translated`,
      );
    return {
      type: 'function',
      function: {
        name: tool.name,
        ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
        parameters: isRecord(tool.input_schema) ? tool.input_schema : { type: 'object', properties: {} },
      },
    };
  });
}

function toolChoiceToOpenAi(choice: unknown): Json {
  if (!isRecord(choice)) throw new UntranslatableRequest('`tool_choice` must be an object');
  const parallel = choice.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {};
  if (choice.type === 'auto') return { tool_choice: 'auto', ...parallel };
  if (choice.type === 'any') return { tool_choice: 'required', ...parallel };
  if (choice.type === 'none') return { tool_choice: 'none' };
  if (choice.type === 'tool' && typeof choice.name === 'string')
    return { tool_choice: { type: 'function', function: { name: choice.name } }, ...parallel };
  throw new UntranslatableRequest('`tool_choice.type` must be auto, any, none or tool');
}

/** One Anthropic turn as OpenAI messages: tool results become `tool` messages, tool uses `tool_calls`. */
function turnToOpenAi(message: Json, where: string): Json[] {
  if (typeof message.content === 'string') return [{ role: message.role, content: message.content }];
  if (!Array.isArray(message.content))
    throw new UntranslatableRequest(`${where}: content must be text or blocks`);
  const out: Json[] = [];
  const text: string[] = [];
  const calls: Json[] = [];
  message.content.forEach((block, j) => {
    const at = `${where}.content[${j}]`;
    if (!isRecord(block)) throw new UntranslatableRequest(`${at} must be an object`);
    if (block.type === 'text' && typeof block.text === 'string') text.push(block.text);
    else if (
      block.type === 'tool_use' &&
      message.role === 'assistant' &&
      typeof block.id === 'string' &&
      typeof block.name === 'string'
    )
      calls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    else if (block.type === 'tool_result' && message.role === 'user' && typeof block.tool_use_id === 'string')
      out.push({
        role: 'tool',
        tool_call_id: block.tool_use_id,
        content: block.content === undefined ? '' : textOf(block.content, at),
      });
    else
      throw new UntranslatableRequest(
        `${at}: only text, tool_use and tool_result blocks can be translated to OpenAI`,
      );
  });
  if (message.role === 'assistant')
    out.push({
      role: 'assistant',
      content: text.length === 0 ? null : text.join(''),
      ...(calls.length === 0 ? {} : { tool_calls: calls }),
    });
  else if (text.length > 0) out.push({ role: 'user', content: text.join('') });
  return out;
}

/** An Anthropic Messages request as an OpenAI Chat Completions request (text and client tools). */
function anthropicToOpenAi(body: Json): Json {
  if (body.thinking !== undefined)
    throw new UntranslatableRequest('`thinking` cannot be translated to OpenAI');
  if (!Array.isArray(body.messages)) throw new UntranslatableRequest('`messages` must be a list');
  const messages: Json[] = [];
  if (body.system !== undefined) messages.push({ role: 'system', content: textOf(body.system, 'system') });
  body.messages.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isRecord(message) || (message.role !== 'user' && message.role !== 'assistant'))
      throw new UntranslatableRequest(`${where}: role must be user or assistant`);
    for (const turn of turnToOpenAi(message, where)) messages.push(turn);
  });
  return {
    model: body.model,
    messages,
    max_tokens: body.max_tokens,
    ...sampling(body, 'stop_sequences', 'stop'),
    ...(body.tools === undefined ? {} : { tools: toolsToOpenAi(body.tools) }),
    ...(body.tool_choice === undefined ? {} : toolChoiceToOpenAi(body.tool_choice)),
  };
}

/** The request in the provider's format (`to`); throws UntranslatableRequest naming the field. */
export function translateRequest(to: ProviderKind, body: Json): Json {
  const out = to === 'anthropic' ? openAiToAnthropic(body) : anthropicToOpenAi(body);
  if (body.stream === true) out.stream = true;
  return out;
}
