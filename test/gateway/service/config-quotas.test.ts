import { describe, expect, it } from 'vitest';
import { MANIFEST, raw } from './harness.js';
import { useGateway } from './use-gateway.js';

// The per-tool limit comes from oacp.yaml (quotas.tools), not from a createGateway option.
describe('oacp.yaml quotas.tools', () => {
  const gw = useGateway({ config: { quotas: { memory_mb: 16, tools: { echo: 2 } } } });

  it('answers the (N+1)th call of a limited tool with HTTP 429 naming the quota', async () => {
    const agent = await gw.client.createAgent({ name: 'limited', manifest: MANIFEST });
    const call = (tool: string, args: unknown) =>
      raw(gw.url, `/v1/tools/${tool}/call`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: agent.id, arguments: args }),
      });
    expect((await call('echo', { text: 'one' })).status).toBe(200);
    expect((await call('echo', { text: 'two' })).status).toBe(200);
    const third = await call('echo', { text: 'three' });
    expect(third.status).toBe(429);
    expect(third.json).toMatchObject({ error: { quota: 'tool.echo.calls_per_min' } });
    expect(third.text).toContain('tool.echo.calls_per_min');
    // Other tools are not limited by echo's quota.
    expect((await call('add', { a: 1, b: 2 })).status).toBe(200);
  });
});
