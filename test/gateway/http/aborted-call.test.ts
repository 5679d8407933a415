import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../../../src/gateway/runtime/define-tool.js';
import { eventually } from '../../mcp/raw-harness.js';
import { MANIFEST, raw, startGateway, type TestGateway, testTools } from '../service/harness.js';

/**
 * The attack: a client starts a tool call through the gateway and drops the
 * HTTP request while the tool runs. The tool sees the abort, and the call is
 * still recorded: exactly one receipt, as for any call that ran.
 */
describe('a gateway tool call whose HTTP request is aborted', () => {
  let gw: TestGateway;
  let started = 0;
  let aborted = 0;
  let agent: { id: string };

  beforeAll(async () => {
    gw = await startGateway({
      tools: [
        ...testTools(),
        defineTool({
          name: 'slow',
          input: z.strictObject({}),
          run: (_args, context) =>
            new Promise((resolve, reject) => {
              started++;
              const timer = setTimeout(() => resolve({ waited: true }), 20_000);
              context.signal.addEventListener('abort', () => {
                aborted++;
                clearTimeout(timer);
                reject(new Error('the caller went away'));
              });
            }),
        }),
      ],
    });
    agent = await gw.client.createAgent({ name: 'leaver', manifest: MANIFEST });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const receiptsOf = async (tool: string) => {
    const page = await raw(gw.url, `/v1/receipts?tool=${tool}`, {
      headers: { authorization: `Bearer ${gw.adminKey}` },
    });
    return (page.json as { entries: unknown[] }).entries;
  };

  // `slow` is in the test manifest's allow list: the tool waits until its caller goes away.
  it('attack: the request is dropped mid-call: the tool is aborted and the call gets one receipt', async () => {
    const post = request(new URL('/v1/tools/slow/call', gw.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    });
    post.on('error', () => undefined);
    post.end(JSON.stringify({ agent: agent.id, arguments: {} }));
    await eventually(() => started === 1, 'the tool to start');
    post.destroy();
    await eventually(() => aborted === 1, 'the tool to see the abort');
    let entries: unknown[] = [];
    for (let i = 0; i < 100 && entries.length === 0; i++) {
      entries = await receiptsOf('slow');
      if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(entries).toHaveLength(1);
    // The gateway goes on serving.
    expect((await raw(gw.url, '/healthz')).status).toBe(200);
    expect(await receiptsOf('slow')).toHaveLength(1);
  });
});
