import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY_FILE, registerGateway, runGatewayCommand } from '../../../src/cli/commands/gateway.js';
import { registerPolicy } from '../../../src/cli/commands/policy.js';
import type { Output } from '../../../src/cli/io.js';
import { buildProgram, createContext, runProgram } from '../../../src/cli/program.js';
import { OacpClient } from '../../../src/client/index.js';
import { freshHome } from './node-home.js';

const HIPAA = join(import.meta.dirname, '..', '..', '..', 'policies', 'hipaa.cedar');

async function oacp(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    const code = await runProgram(
      buildProgram(createContext(output, env), [registerPolicy, registerGateway]),
      args,
      output,
    );
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    process.exitCode = saved;
  }
}

describe('oacp policy test', () => {
  const read = [
    'policy',
    'test',
    '--policy',
    HIPAA,
    '--action',
    'tools/call',
    '--principal',
    'did:key:z6MkTest',
  ];

  it('allows a cleared agent at attestation level 2 to read patient data', async () => {
    const result = await oacp([
      ...read,
      '--principal-attr',
      'name=nurse',
      '--principal-attr',
      'tier=standard',
      '--principal-attr',
      'attestation_level=2',
      '--principal-attr',
      'authorized_for_hipaa=true',
      '--resource',
      'patient_record',
      '--resource-attr',
      'server=native',
      '--resource-attr',
      'data=patient_data',
      '--resource-attr',
      'access=read',
      '--context',
      'server=native',
      '--context',
      'signed=true',
      '--context',
      'arguments={}',
    ]);
    expect(result.stdout).toContain('allow: permitted by policy hipaa-data-access');
    expect(result.code).toBe(0);
  });

  it('denies (exit 1) with the forbidding policy named', async () => {
    const result = await oacp([
      ...read,
      '--principal-attr',
      'name=nurse',
      '--principal-attr',
      'tier=standard',
      '--principal-attr',
      'attestation_level=2',
      '--principal-attr',
      'authorized_for_hipaa=true',
      '--resource',
      'export',
      '--resource-attr',
      'server=native',
      '--resource-attr',
      'data=patient_data',
      '--resource-attr',
      'access=write',
      '--resource-attr',
      'location=external',
      '--context',
      'server=native',
      '--context',
      'signed=true',
      '--context',
      'arguments={}',
      '--json',
    ]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      effect: 'deny',
      policyIds: ['hipaa-no-external-export'],
    });
  });

  it('reads a request file and refuses malformed input', async () => {
    const home = await freshHome();
    try {
      const file = join(home.home, 'request.json');
      writeFileSync(
        file,
        JSON.stringify({
          action: 'sandbox/start',
          principal: { id: 'a', attributes: { name: 'a', tier: 'standard', attestation_level: 1 } },
          resource: { id: 'a', attributes: { tier: 'standard', network_hosts: 0, tools: 1, memory_mb: 16 } },
          context: { running: 50 },
        }),
      );
      const denied = await oacp(['policy', 'test', '--policy', HIPAA, '--request', file]);
      expect(denied.stdout).toContain('forbidden by policy max-sandboxes');
      expect(denied.code).toBe(1);
      const badFile = join(home.home, 'bad-request.json');
      writeFileSync(
        badFile,
        JSON.stringify({ action: 'fly', principal: { id: 'a' }, resource: { id: 'b' } }),
      );
      const bad = await oacp(['policy', 'test', '--policy', HIPAA, '--request', badFile]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('action');
      const badPolicy = join(home.home, 'bad.cedar');
      writeFileSync(badPolicy, 'permit(principal, action == Action::"tools/cal", resource);');
      const refused = await oacp(['policy', 'test', '--policy', badPolicy, '--request', file]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/bad\.cedar:1:\d+: .*unrecognized action/);
    } finally {
      home.remove();
    }
  });
});

describe('oacp gateway', () => {
  it('serves until stopped and bootstraps one admin key into an owner-only file', async () => {
    const home = await freshHome();
    const lines: string[] = [];
    const controller = new AbortController();
    let url: URL | undefined;
    const done = runGatewayCommand({
      home: home.home,
      env: home.env,
      output: { out: (line) => lines.push(line), err: () => undefined },
      listen: '127.0.0.1:0',
      logLevel: 'error',
      signal: controller.signal,
      onListening: (gateway) => {
        url = gateway.url;
      },
    });
    await expect.poll(() => url, { timeout: 20_000 }).toBeDefined();
    const keyFile = join(home.home, ADMIN_KEY_FILE);
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o077).toBe(0);
    const key = readFileSync(keyFile, 'utf8').trim();
    expect(lines.join('\n')).not.toContain(key);
    expect(lines.some((line) => line.startsWith('oacp gateway listening on http://127.0.0.1:'))).toBe(true);
    const client = new OacpClient({ baseUrl: url ?? '', apiKey: key });
    expect(await client.listAgents()).toEqual([]);
    controller.abort();
    await done;
    expect(lines.at(-1)).toBe('oacp gateway stopped');
    home.remove();
  });

  it('refuses --tls-cert without --tls-key and a bad --log-level', async () => {
    const home = await freshHome();
    try {
      const half = await oacp(['--home', home.home, 'gateway', '--tls-cert', 'x.pem'], home.env);
      expect(half.code).toBe(2);
      expect(half.stderr).toContain('--tls-key');
      const level = await oacp(['--home', home.home, 'gateway', '--log-level', 'loud'], home.env);
      expect(level.code).toBe(2);
    } finally {
      home.remove();
    }
  });
});
