import { describe, expect, it } from 'vitest';
import { describeError, OacpError } from '../../../src/core/errors.js';
import { messages } from '../../../src/gateway/models/anthropic-wire.js';
import { chatCompletions } from '../../../src/gateway/models/openai-wire.js';
import { requestedTools } from '../../../src/gateway/models/request-tools.js';

/** The refusal of a request's tools, as a caller sees it: an OacpError of the model domain, or nothing. */
function refusal(run: () => unknown): OacpError | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof OacpError) return error;
    throw error;
  }
}

/**
 * Issue 14 item 5: a tools entry the gateway cannot read was refused with a bare Error subclass, so
 * nothing outside the model gateway could tell it by `code` (STYLE.md: one error type, a code union
 * per domain). It is an OacpError with the model domain's code, and its message names the field.
 */
describe('unreadable tools are refused with the model domain code', () => {
  const cases = [
    { dialect: chatCompletions, body: { tools: [{ function: { name: 'f' } }] }, field: 'tools[0].type' },
    { dialect: chatCompletions, body: { tools: 'web_search' }, field: '`tools` must be a list' },
    { dialect: chatCompletions, body: { functions: [{}] }, field: 'functions[0].name' },
    { dialect: messages, body: { tools: [7] }, field: 'tools[0] must be an object' },
    { dialect: messages, body: { tools: [{ type: '' }] }, field: 'tools[0].type' },
  ] as const;
  for (const { dialect, body, field } of cases) {
    it(`attack: ${dialect.kind} ${JSON.stringify(body)} is refused as MODELS_TOOLS_UNREADABLE naming ${field}`, () => {
      const error = refusal(() => requestedTools(dialect, body));
      expect(error).toBeInstanceOf(OacpError);
      expect(error?.code).toBe('MODELS_TOOLS_UNREADABLE');
      expect(error?.message).toContain(field);
      expect(describeError(error)).toBe(`MODELS_TOOLS_UNREADABLE: ${error?.message}`);
    });
  }

  it('readable tools are no error: functions by name, provider tools by type with their bound', () => {
    const tools = requestedTools(messages, {
      tools: [{ name: 'get_weather' }, { type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
    });
    expect(tools.functions).toEqual(['get_weather']);
    expect(tools.provider).toEqual(['web_search_20250305']);
    expect(tools.maxUses.get('web_search_20250305')).toBe(2);
  });
});
