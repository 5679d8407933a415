import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool } from '../../../src/gateway/runtime/define-tool.js';
import { eventually } from '../../mcp/raw-harness.js';
import { MANIFEST, raw, testTools } from '../service/harness.js';
import { useGateway } from '../service/use-gateway.js';

/**
 * The attack: a client starts a tool call through the gateway and drops the
 * HTTP request while the tool runs. The tool sees the abort, and the call is
 * still recorded: exactly one receipt, as for any call that ran.
 */
describe('a gateway tool call whose HTTP request is aborted', () => {
  let started = 0;
  let aborted = 0;
  let agent: { id: string };
  /** `late`: started, then released by the test once its caller is gone; then what its signal said. */
  let lateStarted = 0;
  let releaseLate: () => void = () => undefined;
  let lateSaw: boolean | undefined;

  const gw = useGateway({
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
      // Looks at its signal only after its caller is gone (the request's signal is made on first use).
      defineTool({
        name: 'late',
        input: z.strictObject({}),
        run: async (_args, context) => {
          lateStarted++;
          await new Promise<void>((resolve) => {
            releaseLate = resolve;
          });
          for (let i = 0; i < 200 && !context.signal.aborted; i++)
            await new Promise((resolve) => setTimeout(resolve, 25));
          lateSaw = context.signal.aborted;
          return { late: true };
        },
      }),
    ],
  });
  beforeAll(async () => {
    agent = await gw.client.createAgent({
      name: 'leaver',
      manifest: { ...MANIFEST, capabilities: { tools: { allow: ['slow', 'late'] } } },
    });
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

  it('attack: the request is dropped before the tool first looks at its signal: the signal it gets is aborted', async () => {
    const post = request(new URL('/v1/tools/late/call', gw.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    });
    post.on('error', () => undefined);
    post.end(JSON.stringify({ agent: agent.id, arguments: {} }));
    await eventually(() => lateStarted === 1, 'the tool to start');
    post.destroy();
    releaseLate();
    await eventually(() => lateSaw !== undefined, 'the tool to look at its signal');
    expect(lateSaw).toBe(true);
    let entries: unknown[] = [];
    for (let i = 0; i < 100 && entries.length === 0; i++) {
      entries = await receiptsOf('late');
      if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(entries).toHaveLength(1);
  });
});
