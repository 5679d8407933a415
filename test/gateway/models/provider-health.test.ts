import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oacp } from '../../cli/harness.js';
import { raw, startGateway, type TestGateway } from '../service/harness.js';
import { modelsConfig, putProviderKey } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const PROVIDER_KEY = 'sk-standin-health-secret-5555555555';
const MASTER_KEY_ENV = { OACP_MASTER_KEY: '11'.repeat(32) };

interface Status {
  name: string;
  breaker: string;
  lastError?: { class: string; at: string };
  probe: { reachable: boolean; status?: number; key: string; error?: string };
}

describe('provider health: breaker, last error class, and a probe that spends no tokens', () => {
  let up: StandIn;
  let down: StandIn;
  let gw: TestGateway;
  let auditKey: string;
  let modelsYaml: string;

  beforeAll(async () => {
    up = await startStandIn('up');
    down = await startStandIn('down');
    const models = {
      providers: [
        { name: 'up', kind: 'openai', base_url: `${up.url}/v1`, max_retries: 0, models: ['gpt-up'] },
        { name: 'down', kind: 'openai', base_url: `${down.url}/v1`, max_retries: 0, models: ['gpt-down'] },
        { name: 'claude', kind: 'anthropic', base_url: up.url, max_retries: 0, models: ['claude-up'] },
      ],
      breaker: { failures: 1, cooldown_ms: 60_000 },
    };
    gw = await startGateway({
      config: modelsConfig(models),
    });
    for (const provider of ['up', 'down']) await putProviderKey(gw, provider, PROVIDER_KEY);
    auditKey = await gw.keyWith(['audit:read']);
    modelsYaml = join(gw.home, 'oacp.yaml');
    writeFileSync(modelsYaml, JSON.stringify({ models }));
    // "down" is a provider that went away: its port refuses connections from now on.
    await down.close();
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const health = async (): Promise<{ statuses: Status[]; text: string }> => {
    const answer = await raw(gw.url, '/v1/oacp/models/health', {
      headers: { authorization: `Bearer ${auditKey}` },
    });
    expect(answer.status).toBe(200);
    return { statuses: (answer.json as { providers: Status[] }).providers, text: answer.text };
  };

  it('probes each provider by its models list with the vault key (no completion is sent)', async () => {
    const before = up.received.length;
    const { statuses, text } = await health();
    const byName = Object.fromEntries(statuses.map((s) => [s.name, s]));
    expect(byName.up).toMatchObject({
      breaker: 'closed',
      probe: { reachable: true, status: 200, key: 'accepted' },
    });
    expect(byName.claude).toMatchObject({ probe: { reachable: true, status: 200, key: 'none stored' } });
    expect(byName.down).toMatchObject({ probe: { reachable: false, error: 'connection_refused' } });
    const probes = up.received.slice(before);
    expect(probes.map((p) => p.path).sort()).toEqual(['/v1/models', '/v1/models']);
    expect(probes.find((p) => p.headers.authorization !== undefined)?.headers.authorization).toBe(
      `Bearer ${PROVIDER_KEY}`,
    );
    expect(
      probes.find((p) => p.headers.authorization === undefined)?.headers['anthropic-version'],
    ).toBeDefined();
    expect(text).not.toContain(PROVIDER_KEY);
    // Asked again at once, the report reuses the probes: a reader cannot make the gateway hammer a provider.
    await health();
    expect(up.received.length).toBe(before + 2);
  });

  it('reports the breaker opened by a failed call and the failure by class only, never a key or body', async () => {
    const agent = await gw.client.createAgent({
      name: 'prober',
      manifest: {
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'prober',
        capabilities: { models: { allow: ['*'] } },
        quotas: { memory_mb: 16 },
      },
    });
    const key = (await gw.gateway.apiKeys.create({ scopes: ['models:call'], agentId: agent.id })).key;
    const client = new OpenAI({ apiKey: key, baseURL: new URL('/v1', gw.url).href, maxRetries: 0 });
    await expect(
      client.chat.completions.create({ model: 'gpt-down', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 502 });
    const { statuses, text } = await health();
    const down = statuses.find((s) => s.name === 'down');
    expect(down?.breaker).toBe('open');
    expect(down?.lastError?.class).toBe('connection_refused');
    expect(Date.parse(down?.lastError?.at ?? '')).toBeGreaterThan(0);
    expect(statuses.find((s) => s.name === 'up')?.lastError).toBeUndefined();
    expect(text).not.toContain(PROVIDER_KEY);
    expect(text).not.toContain('ECONNREFUSED');
    const metrics = await raw(gw.url, '/metrics', { headers: { authorization: `Bearer ${auditKey}` } });
    expect(metrics.text).toMatch(/oacp_llm_breaker_open\{[^}]*provider="down"[^}]*\} 1/);
  });

  it('is refused without audit:read', async () => {
    const key = await gw.keyWith(['agents:read']);
    const answer = await raw(gw.url, '/v1/oacp/models/health', {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(answer.status).toBe(403);
  });

  it('oacp doctor --config probes the providers with the home vault keys: one up, one down', async () => {
    const result = await oacp(
      ['doctor', '--json', '--config', modelsYaml, '--home', gw.home],
      MASTER_KEY_ENV,
    );
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      models: { keys: string; providers: Array<{ name: string; origin: string; probe: Status['probe'] }> };
    };
    expect(report.models.keys).toBe('from the vault of this home');
    const byName = Object.fromEntries(report.models.providers.map((p) => [p.name, p]));
    expect(byName.up?.probe).toMatchObject({ reachable: true, status: 200, key: 'accepted' });
    expect(byName.down?.probe).toMatchObject({ reachable: false, error: 'connection_refused' });
    expect(result.stdout).not.toContain(PROVIDER_KEY);

    const text = await oacp(['doctor', '--config', modelsYaml, '--home', gw.home], MASTER_KEY_ENV);
    expect(text.stdout).toMatch(
      /ok +up \(openai, http:\/\/127\.0\.0\.1:\d+\): reachable, HTTP 200 .*key accepted/,
    );
    expect(text.stdout).toMatch(/no +down \(openai, .*\): unreachable \(connection_refused\)/);
  });

  it('oacp doctor without the vault still probes, and says the keys were not sent', async () => {
    const result = await oacp(['doctor', '--json', '--config', modelsYaml, '--home', gw.home], {});
    const report = JSON.parse(result.stdout) as {
      models: { keys: string; providers: Array<{ name: string; probe: Status['probe'] }> };
    };
    expect(report.models.keys).toMatch(/^not sent: the vault did not open/);
    expect(report.models.providers.find((p) => p.name === 'up')?.probe).toMatchObject({
      reachable: true,
      key: 'none stored',
    });
  });

  it('oacp doctor names the flag when the config cannot be read', async () => {
    const result = await oacp(['doctor', '--config', join(gw.home, 'missing.yaml')], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^oacp: --config: cannot read .*missing\.yaml: ENOENT$/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
