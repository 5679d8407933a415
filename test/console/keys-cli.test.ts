import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { raw } from '../gateway/service/harness.js';
import { useGateway } from '../gateway/service/use-gateway.js';
import { BIN } from './console-gateway.js';

const oacp = (home: string, ...args: string[]) => {
  const run = spawnSync(process.execPath, [BIN, '--home', home, ...args], {
    encoding: 'utf8',
    // The test home's master key comes from the environment (test/gateway/service/node-home.ts).
    env: { PATH: process.env.PATH, HOME: home, OACP_MASTER_KEY: '11'.repeat(32) },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
};

/** `oacp keys create|list|revoke` on a running gateway's store: a narrow console key, shown once. */
describe('oacp keys: API keys for the console from the CLI', () => {
  const gw = useGateway({}, 60_000);

  it('creates a console key that reads the audit trail and decides approvals, and nothing else', async () => {
    const created = oacp(
      gw.home,
      'keys',
      'create',
      '--scope',
      'audit:read,approvals:decide',
      '--name',
      'console',
    );
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^oacp_[0-9a-f]{16}_\S+$/);
    expect(created.stderr).toContain('shown once');
    const auth = { authorization: `Bearer ${key}` };
    expect((await raw(gw.url, '/v1/receipts?limit=1', { headers: auth })).status).toBe(200);
    expect((await raw(gw.url, '/v1/approvals', { headers: auth })).status).toBe(200);
    expect((await raw(gw.url, '/v1/agents', { headers: auth })).status).toBe(403);
    // Listed without its secret; revoked, it stops working.
    const id = key.split('_')[1] ?? '';
    const listed = oacp(gw.home, 'keys', 'list');
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+live\\s+audit:read,approvals:decide\\s+console`));
    expect(listed.stdout).not.toContain(key.split('_')[2]);
    expect(oacp(gw.home, 'keys', 'revoke', id).code).toBe(0);
    // A running gateway remembers a verified key for up to 5 s (docs/console.md), then refuses it.
    await expect
      .poll(async () => (await raw(gw.url, '/v1/receipts?limit=1', { headers: auth })).status, {
        timeout: 8000,
        interval: 250,
      })
      .toBe(401);
  });

  it('refuses an unknown scope naming the valid ones, a bad label, and a home without a store', () => {
    const typo = oacp(gw.home, 'keys', 'create', '--scope', 'audit:read,approval:decide');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('--scope: unknown scope "approval:decide"');
    expect(typo.stderr).toContain('approvals:decide');
    expect(typo.stderr).not.toMatch(/\n\s+at /);
    const none = oacp(gw.home, 'keys', 'create', '--scope', ',');
    expect(none.code).toBe(2);
    const label = oacp(gw.home, 'keys', 'create', '--scope', 'audit:read', '--name', 'x'.repeat(101));
    expect(label.code).toBe(2);
    expect(label.stderr).toContain('--name');
    const nowhere = oacp('/nonexistent-oacp-home', 'keys', 'list');
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toContain('--store');
  });

  it("prints the log key the console's sign-in expects, in oacp log key and oacp doctor", () => {
    const key = oacp(gw.home, 'log', 'key');
    expect(key.code).toBe(0);
    expect(key.stdout.trim()).toBe(gw.gateway.node.log.verifierKey);
    expect(oacp(gw.home, 'doctor').stdout).toContain(
      `log key (the console's expected log key): ${gw.gateway.node.log.verifierKey}`,
    );
    const none = oacp('/nonexistent-oacp-home', 'log', 'key');
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('oacp init');
  });
});
