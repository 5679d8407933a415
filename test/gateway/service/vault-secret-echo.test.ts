import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Logger } from '../../../src/gateway/observability/logger.js';
import { defineTool } from '../../../src/gateway/runtime/define-tool.js';
import { MANIFEST, raw, testTools } from './harness.js';
import { useGateway } from './use-gateway.js';

/** Shaped like no key the pattern redactor knows: only knowing the vault's values can mask it. */
const SECRET = 'vault-value-7f3a9c2e1b5d';

/**
 * Attack: a native tool that is handed a vault secret and throws with it in its message (as a
 * client library quoting a rejected token does). The secret must reach no HTTP answer, no
 * receipt and no log line.
 */
describe('a vault secret echoed by a failing tool', () => {
  const lines: string[] = [];
  const gw = useGateway({
    logger: new Logger((line) => lines.push(line), 'debug'),
    tools: [
      ...testTools(),
      defineTool({
        name: 'github.leaky',
        input: z.strictObject({}),
        run: async (_args, context) => {
          const token = (await context.credentials()).env().GH_TOKEN;
          throw new Error(`upstream refused token ${token} (encoded: ${encodeURIComponent(token ?? '')})`);
        },
      }),
      defineTool({
        name: 'github.stray',
        input: z.strictObject({}),
        // Never asks for its credentials, yet quotes the value (read from a config file, say):
        // only the gateway-wide registry of values its vault holds can mask it.
        run: () => {
          throw new Error(`config says token=${SECRET}`);
        },
      }),
    ],
  });

  it('reaches no answer, receipt or log line', async () => {
    const agent = await gw.client.createAgent({ name: 'leaky', manifest: MANIFEST });
    const headers = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
    const put = await raw(gw.url, `/v1/agents/${encodeURIComponent(agent.id)}/credentials/gh`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ tool: 'github.*', inject: { kind: 'env', name: 'GH_TOKEN' }, value: SECRET }),
    });
    expect(put.status).toBe(200);

    const answer = await raw(gw.url, '/v1/tools/github.leaky/call', {
      method: 'POST',
      headers,
      body: JSON.stringify({ agent: agent.id, arguments: {} }),
    });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.text).toContain('upstream refused token [REDACTED]');
    expect(answer.text).not.toContain(SECRET);

    const index = (answer.json as { error: { receipt: { index: number } } }).error.receipt.index;
    const receipt = await raw(gw.url, `/v1/receipts/${index}`);
    expect(receipt.status).toBe(200);
    const payload = Buffer.from(
      (receipt.json as { envelope: { payload: string } }).envelope.payload,
      'base64',
    ).toString('utf8');
    expect(payload).toContain('"outcome":"error"');
    expect(receipt.text + payload).not.toContain(SECRET);

    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((line) => line.includes('upstream refused token [REDACTED]'))).toBe(true);
    for (const line of lines) expect(line).not.toContain(SECRET);
  });

  it('is masked in answers and log lines by the gateway-wide registry, even when the tool was not handed it', async () => {
    const agent = await gw.client.createAgent({ name: 'stray', manifest: MANIFEST });
    const headers = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
    const path = `/v1/agents/${encodeURIComponent(agent.id)}/credentials/gh`;
    const body = { tool: 'github.*', inject: { kind: 'env', name: 'GH_TOKEN' }, value: SECRET };
    expect((await raw(gw.url, path, { method: 'PUT', headers, body: JSON.stringify(body) })).status).toBe(
      200,
    );
    lines.length = 0;
    const answer = await raw(gw.url, '/v1/tools/github.stray/call', {
      method: 'POST',
      headers,
      body: JSON.stringify({ agent: agent.id, arguments: {} }),
    });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.text).toContain('config says token=[REDACTED]');
    expect(answer.text).not.toContain(SECRET);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((line) => line.includes('config says token=[REDACTED]'))).toBe(true);
    for (const line of lines) expect(line).not.toContain(SECRET);
  });
});
