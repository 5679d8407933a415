import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST, startGateway, type TestGateway } from './harness.js';
import { useGateway } from './use-gateway.js';

const HIPAA = readFileSync(join(import.meta.dirname, '..', '..', '..', 'policies', 'hipaa.cedar'), 'utf8');

const PHI_MANIFEST = {
  ...MANIFEST,
  capabilities: { tools: { allow: ['echo', 'patient_record', 'export_external'] } },
};

describe('global policies: the HIPAA sample', () => {
  const gw = useGateway({ policy: HIPAA });

  async function agent(name: string, attributes: Record<string, boolean>, manifest: unknown = PHI_MANIFEST) {
    return gw.client.createAgent({ name, manifest, attributes });
  }

  it('lets a cleared agent read patient data with a request it signed (attestation level 2)', async () => {
    const cleared = await agent('cleared', { authorized_for_hipaa: true });
    const signer = await gw.gateway.services.agents.signer(cleared.id);
    if (signer === undefined) throw new Error('no signer');
    const result = await gw.clientAs(signer).callTool('patient_record', { id: 'p-1' });
    expect(result.result).toEqual({ id: 'p-1', status: 'stable' });
  });

  it('refuses the same read made with an API key (Airlock-only receipt, level 1)', async () => {
    const cleared = await agent('cleared-apikey', { authorized_for_hipaa: true });
    await expect(
      gw.client.callTool('patient_record', { id: 'p-1' }, { agent: cleared.id }),
    ).rejects.toMatchObject({
      status: 403,
      code: 'RUNTIME_POLICY_DENIED',
      message: expect.stringContaining('deny by default'),
    });
  });

  it('refuses patient data to an agent without the attribute', async () => {
    const plain = await agent('uncleared', {});
    const signer = await gw.gateway.services.agents.signer(plain.id);
    if (signer === undefined) throw new Error('no signer');
    await expect(gw.clientAs(signer).callTool('patient_record', { id: 'p-1' })).rejects.toMatchObject({
      status: 403,
    });
    expect((await gw.clientAs(signer).callTool('echo', { text: 'ok' })).result).toEqual({ echoed: 'ok' });
  });

  it('forbids export to an external system even for a cleared agent, naming the policy', async () => {
    const cleared = await agent('exporter', { authorized_for_hipaa: true });
    const signer = await gw.gateway.services.agents.signer(cleared.id);
    if (signer === undefined) throw new Error('no signer');
    const refusal = await gw
      .clientAs(signer)
      .callTool('export_external', { id: 'p-1' })
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({
      status: 403,
      message: expect.stringContaining('hipaa-no-external-export'),
    });
  });

  it('refuses to start a cleared agent that asks for network access', async () => {
    const networked = await agent(
      'networked',
      { authorized_for_hipaa: true },
      {
        ...PHI_MANIFEST,
        capabilities: { ...PHI_MANIFEST.capabilities, network: { allowlist: ['127.0.0.1'] } },
      },
    );
    await expect(gw.client.startAgent(networked.id)).rejects.toMatchObject({
      status: 403,
      message: expect.stringContaining('phi-network-isolation'),
    });
    expect((await gw.client.getAgent(networked.id)).state).toBe('created');
  });
});

describe('traces', () => {
  interface Span {
    traceId: string;
    spanId: string;
    parentSpanId?: string;
    name: string;
  }
  let receiver: Server;
  const spans: Span[] = [];
  let gw: TestGateway;
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: { scopeSpans: { spans: Span[] }[] }[];
        };
        for (const r of body.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    gw = await startGateway({
      config: { otel: { endpoint: `http://127.0.0.1:${port}` } },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('exports one trace from the request through the sandbox to the tool call over OTLP/HTTP', async () => {
    const created = await gw.client.createAgent({
      name: 'traced',
      manifest: MANIFEST,
      code: 'function main() { return oacp.tools.call("echo", { text: "t" }); }',
    });
    await gw.client.startAgent(created.id);
    await gw.client.runAgent(created.id);
    await gw.gateway.services.tracing.flush();
    const run = spans.find((span) => span.name === 'POST /v1/agents/:id/run');
    expect(run).toBeDefined();
    const trace = spans.filter((span) => span.traceId === run?.traceId);
    const sandbox = trace.find((span) => span.name === 'sandbox run' && span.parentSpanId === run?.spanId);
    const tool = trace.find((span) => span.name === 'tool echo');
    expect(sandbox).toBeDefined();
    expect(tool?.parentSpanId).toBe(sandbox?.spanId);
  });

  it('continues a caller trace given in traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(new URL('/v1/tools', gw.url), {
      headers: { authorization: `Bearer ${gw.adminKey}`, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(response.status).toBe(200);
    await gw.gateway.services.tracing.flush();
    expect(spans.some((span) => span.traceId === traceId && span.parentSpanId === '00f067aa0ba902b7')).toBe(
      true,
    );
  });
});
