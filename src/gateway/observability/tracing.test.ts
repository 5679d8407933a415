import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { remoteParent, Tracing } from './tracing.js';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** A tiny OTLP/HTTP receiver: collects the spans of every JSON export it gets. */
async function otlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; server: Server }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { scopeSpans: { spans: ReceivedSpan[] }[] }[];
      };
      for (const resource of body.resourceSpans)
        for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, server };
}

describe('tracing', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  it('exports parent and child spans over OTLP/HTTP in one trace', async () => {
    const receiver = await otlpReceiver();
    servers.push(receiver.server);
    const tracing = Tracing.create({ otlpEndpoint: receiver.url, batchDelayMs: 10 });
    const root = tracing.start('http POST /v1/tools/echo/call', undefined);
    await tracing.inSpan('tool echo', root, { 'oacp.tool': 'echo' }, async () => 1);
    root.end();
    await tracing.flush();
    await tracing.shutdown();
    expect(receiver.spans.map((span) => span.name).sort()).toEqual([
      'http POST /v1/tools/echo/call',
      'tool echo',
    ]);
    const [a, b] = receiver.spans;
    expect(a?.traceId).toBe(b?.traceId);
    const child = receiver.spans.find((span) => span.name === 'tool echo');
    const parent = receiver.spans.find((span) => span.name !== 'tool echo');
    expect(child?.parentSpanId).toBe(parent?.spanId);
  });

  it('records nothing without an exporter', () => {
    const tracing = Tracing.create();
    expect(tracing.enabled).toBe(false);
    expect(tracing.start('x', undefined).isRecording()).toBe(false);
  });

  it('continues a W3C traceparent and ignores malformed ones', () => {
    const parent = remoteParent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(parent).toBeDefined();
    expect(remoteParent('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
    expect(remoteParent('garbage')).toBeUndefined();
    expect(remoteParent(undefined)).toBeUndefined();
  });
});
