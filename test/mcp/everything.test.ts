import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, inProcess, lightUpstream, SERVERS, testClient, type Via } from './helpers.js';

/** Arguments for every tool the everything server lists; a new tool without an entry fails the test. */
const TOOL_ARGS: Record<string, Record<string, unknown>> = {
  echo: { message: 'hello through the bridge' },
  'get-annotated-message': { messageType: 'success', includeImage: true },
  'get-env': {},
  'get-resource-links': { count: 2 },
  'get-resource-reference': { resourceType: 'Text', resourceId: 1 },
  'get-structured-content': { location: 'Chicago' },
  'get-sum': { a: 2, b: 40 },
  'get-tiny-image': {},
  'gzip-file-as-resource': {
    name: 'hello.gz',
    data: 'data:text/plain;base64,aGVsbG8=',
    outputType: 'resource',
  },
  'toggle-simulated-logging': {},
  'toggle-subscriber-updates': {},
  'trigger-long-running-operation': { duration: 0.2, steps: 2 },
  'get-roots-list': {},
  'trigger-elicitation-request': {},
  'trigger-url-elicitation': { url: 'https://example.com/consent' },
  'trigger-sampling-request': { prompt: 'say hi', maxTokens: 10 },
};
/** Tools that need task-augmented calls; exercised separately. */
const TASK_TOOLS = new Set(['simulate-research-query']);

function everythingClient() {
  const client = testClient({
    sampling: {},
    elicitation: { form: {}, url: {} },
    roots: { listChanged: true },
  });
  const seen = { sampling: 0, elicitation: 0, roots: 0, logs: [] as string[] };
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    seen.sampling++;
    expect(request.params.messages[0]?.content).toMatchObject({ type: 'text' });
    return {
      role: 'assistant',
      content: { type: 'text', text: 'sampled by the test client' },
      model: 'test-model',
    };
  });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    seen.elicitation++;
    if (request.params.mode === 'url') return { action: 'accept' };
    return { action: 'accept', content: { name: 'Ada Lovelace', check: true } };
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    seen.roots++;
    return { roots: [{ uri: 'file:///oacp-test-root', name: 'test root' }] };
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (notification) => {
    seen.logs.push(JSON.stringify(notification.params.data));
  });
  return { client, seen };
}

async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each<Via>(['stdio', 'http'])('everything server through the bridge over %s', (via) => {
  let harness: Harness;
  let seen: ReturnType<typeof everythingClient>['seen'];

  beforeAll(async () => {
    const made = everythingClient();
    seen = made.seen;
    harness = await inProcess(
      lightUpstream('everything', [SERVERS.everything, 'stdio']),
      { via },
      made.client,
    );
  });
  afterAll(async () => {
    await harness.close();
  });

  it('passes the server identity and capabilities through initialize', () => {
    expect(harness.client.getServerVersion()?.name).toBe('mcp-servers/everything');
    expect(harness.client.getServerCapabilities()).toMatchObject({
      tools: {},
      prompts: {},
      resources: { subscribe: true },
    });
    expect(harness.client.getInstructions()).toBeTruthy();
  });

  it('calls every tool, each answered with a receipt that verifies', async () => {
    // The server registers its sampling/elicitation/roots tools once it has seen the client's capabilities.
    await until(() => seen.roots > 0, 'the server to ask for roots');
    const { tools } = await harness.client.listTools();
    const names = tools.map((tool) => tool.name).filter((name) => !TASK_TOOLS.has(name));
    expect(names.filter((name) => TOOL_ARGS[name] === undefined)).toEqual([]);
    expect(names).toEqual(
      expect.arrayContaining(['trigger-sampling-request', 'trigger-elicitation-request']),
    );
    const progress: number[] = [];
    for (const name of names) {
      const result = await harness.client.callTool(
        { name, arguments: TOOL_ARGS[name] },
        CallToolResultSchema,
        name === 'trigger-long-running-operation'
          ? { onprogress: (p) => progress.push(p.progress) }
          : undefined,
      );
      expect(result.isError ?? false, `${name}: ${JSON.stringify(result.content).slice(0, 300)}`).toBe(false);
      const receipt = result._meta?.['oacp/receipt'] as { index: number; log: string };
      expect(receipt.log).toBe('test.oacp.invalid/receipts');
      const verified = await harness.receipts.verify(receipt.index);
      expect(verified.ok, JSON.stringify(verified.checks)).toBe(true);
      expect(verified.trustLevel).toBe('Basic');
      expect(verified.predicate).toMatchObject({
        tool: { name },
        policy: { effect: 'allow' },
        tier: 'light',
      });
    }
    expect(progress).toEqual([1, 2]);
    expect(seen.sampling).toBe(1);
    expect(seen.elicitation).toBe(2);
    const recorded = harness.receipts.records.map((record) => record.tool);
    expect(recorded.filter((tool) => !tool.startsWith('server-request:'))).toEqual(names);
    // The server's own requests to the client were judged by policy and recorded too.
    expect(recorded.filter((tool) => tool.startsWith('server-request:')).sort()).toEqual([
      'server-request:elicitation/create',
      'server-request:elicitation/create',
      'server-request:roots/list',
      'server-request:sampling/createMessage',
    ]);
  });

  it('returns results untouched apart from the receipt', async () => {
    const sum = await harness.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
    expect(sum.content).toEqual([{ type: 'text', text: 'The sum of 1 and 2 is 3.' }]);
    const structured = await harness.client.callTool({
      name: 'get-structured-content',
      arguments: { location: 'New York' },
    });
    expect(structured.structuredContent).toMatchObject({ temperature: expect.any(Number) });
  });

  it('keeps host environment variables out of the server', async () => {
    const env = await harness.client.callTool({ name: 'get-env', arguments: {} });
    const text = JSON.stringify(env.content);
    expect(text).toContain('PATH');
    expect(text).not.toContain('HOME');
  });

  it('passes resources, templates and subscriptions through', async () => {
    const { resources } = await harness.client.listResources();
    expect(resources.length).toBeGreaterThan(0);
    const first = resources[0];
    if (first === undefined) throw new Error('no resources');
    const read = await harness.client.readResource({ uri: first.uri });
    expect(read.contents[0]?.uri).toBe(first.uri);
    const templates = await harness.client.listResourceTemplates();
    expect(templates.resourceTemplates.length).toBeGreaterThan(0);
    await harness.client.subscribeResource({ uri: first.uri });
    await harness.client.unsubscribeResource({ uri: first.uri });
  });

  it('passes prompts and completions through', async () => {
    const { prompts } = await harness.client.listPrompts();
    expect(prompts.map((prompt) => prompt.name)).toEqual(
      expect.arrayContaining(['simple-prompt', 'args-prompt']),
    );
    const simple = await harness.client.getPrompt({ name: 'simple-prompt' });
    expect(simple.messages.length).toBeGreaterThan(0);
    const args = await harness.client.getPrompt({
      name: 'args-prompt',
      arguments: { city: 'Paris', state: 'Texas' },
    });
    expect(JSON.stringify(args.messages)).toContain('Paris');
    const completion = await harness.client.complete({
      ref: { type: 'ref/prompt', name: 'completable-prompt' },
      argument: { name: 'department', value: 'Eng' },
    });
    expect(completion.completion.values).toContain('Engineering');
  });

  it('passes logging level changes and log notifications through', async () => {
    await expect(harness.client.setLoggingLevel('debug')).resolves.toEqual({});
    // The server logged the roots it received from the client: a server notification that crossed the bridge.
    await until(() => seen.logs.some((line) => line.includes('Roots updated')), 'the roots log message');
  });

  it('answers ping', async () => {
    await expect(harness.client.ping()).resolves.toEqual({});
  });
});

describe('everything server: task-augmented tool calls', () => {
  it('streams task status and writes a receipt for the call and for its result', async () => {
    const { client } = everythingClient();
    const harness = await inProcess(lightUpstream('everything', [SERVERS.everything, 'stdio']), {}, client);
    try {
      await client.listTools();
      const stream = client.experimental.tasks.callToolStream(
        { name: 'simulate-research-query', arguments: { topic: 'cats' } },
        CallToolResultSchema,
      );
      const kinds: string[] = [];
      let final: Record<string, unknown> | undefined;
      for await (const message of stream) {
        kinds.push(message.type);
        if (message.type === 'result') final = message.result as Record<string, unknown>;
      }
      expect(kinds[0]).toBe('taskCreated');
      expect(kinds.at(-1)).toBe('result');
      expect(JSON.stringify(final?.content)).toContain('Research Report: cats');
      const receipt = (final?._meta as Record<string, unknown> | undefined)?.['oacp/receipt'] as {
        index: number;
      };
      const verified = await harness.receipts.verify(receipt.index);
      expect(verified.ok).toBe(true);
      expect(verified.predicate).toMatchObject({
        tool: { name: 'simulate-research-query' },
        resultDigest: expect.any(String),
      });
      const calls = harness.receipts.records.filter((record) => !record.tool.startsWith('server-request:'));
      expect(calls.map((record) => record.outcome)).toEqual(['result', 'result']);
    } finally {
      await harness.close();
    }
  });
});
