import { describe, expect, it } from 'vitest';
import { Logger } from '../../../src/gateway/observability/logger.js';
import { raw } from '../service/harness.js';
import { useGateway } from '../service/use-gateway.js';

/**
 * What a refused caller, the log and the metrics get back: a typed code, a
 * message that helps, and never the secret that was presented (a real key of
 * the gateway with one character changed, as a guessing attacker sends).
 */
describe('refusals at the HTTP surface', () => {
  const lines: string[] = [];
  const gw = useGateway({ logger: new Logger((line) => lines.push(line), 'debug') });

  /** The admin key with the last character of its secret changed. */
  const nearMiss = () => `${gw.adminKey.slice(0, -1)}${gw.adminKey.endsWith('A') ? 'B' : 'A'}`;
  const secretOf = (key: string) => key.split('_').slice(2).join('_');

  it('no credentials: 401 UNAUTHENTICATED naming both ways in, readable (nothing in it redacted)', async () => {
    const { status, json } = await raw(gw.url, '/v1/agents');
    expect(status).toBe(401);
    const { code, message } = (json as { error: { code: string; message: string } }).error;
    expect(code).toBe('UNAUTHENTICATED');
    expect(message).toContain('Authorization: Bearer <key>');
    expect(message).toContain('OACP-Signed-Request');
    expect(message).not.toContain('[REDACTED]');
  });

  it('attack: a real key with one character changed, as Authorization and as x-api-key: 401 naming the key id, the secret nowhere (answer, log, metrics)', async () => {
    const guess = nearMiss();
    const id = guess.split('_')[1] ?? '';
    for (const headers of [{ authorization: `Bearer ${guess}` }, { 'x-api-key': guess }]) {
      const { status, json, text } = await raw(gw.url, '/v1/agents', { headers });
      expect(status).toBe(401);
      expect(json).toEqual({ error: { code: 'UNAUTHENTICATED', message: `wrong secret for API key ${id}` } });
      expect(text).not.toContain(secretOf(guess));
    }
    const metrics = await raw(gw.url, '/metrics', { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(metrics.status).toBe(200);
    for (const secret of [secretOf(guess), secretOf(gw.adminKey)]) {
      expect(lines.join('\n')).not.toContain(secret);
      expect(metrics.text).not.toContain(secret);
    }
  });

  it('attack: 200 random paths (one carrying a key) are 404 NOT_FOUND, and the metrics gain no label per path', async () => {
    const guess = nearMiss();
    for (let i = 0; i < 200; i++) {
      const path = i === 0 ? `/v1/${guess}` : `/x${Math.random().toString(36).slice(2)}/${i}`;
      const { status, json, text } = await raw(gw.url, path, {
        headers: { authorization: `Bearer ${gw.adminKey}` },
      });
      expect(status, path).toBe(404);
      expect(text, path).not.toContain(secretOf(guess));
      expect((json as { error: { code: string } }).error.code, path).toBe('NOT_FOUND');
    }
    const long = await raw(gw.url, `/${'x'.repeat(10_000)}`);
    expect(long.status).toBe(404);
    expect((long.json as { error: { message: string } }).error.message.length).toBeLessThan(300);
    const metrics = await raw(gw.url, '/metrics', { headers: { authorization: `Bearer ${gw.adminKey}` } });
    const routes = new Set([...metrics.text.matchAll(/route="([^"]*)"/g)].map(([, route]) => route));
    const declared = new Set(gw.gateway.routes.map((route) => route.path));
    // Every label is a declared route pattern, or the one label of every unmatched request.
    expect([...routes].filter((route) => route !== undefined && !declared.has(route))).toEqual(['/*']);
    expect(metrics.text).not.toContain(secretOf(guess));
  });
});

describe('the A2A card of an agent the gateway does not serve', () => {
  const gw = useGateway();

  it('attack: a name that is an API key: 404 typed A2A_AGENT_UNKNOWN, the key not echoed', async () => {
    const secret = gw.adminKey.split('_').slice(2).join('_');
    const { status, json, text } = await raw(gw.url, `/a2a/${gw.adminKey}/.well-known/agent-card.json`);
    expect(status).toBe(404);
    expect((json as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'A2A_AGENT_UNKNOWN',
      message: expect.stringContaining('no A2A agent named'),
    });
    expect(text).not.toContain(secret);
  });
});
