import { describe, expect, it } from 'vitest';
import { manifestWithGrants } from './grants.js';
import { parseManifest } from './parse.js';

describe('manifestWithGrants', () => {
  it('grants nothing without flags (deny by default)', () => {
    const manifest = manifestWithGrants(undefined, {});
    expect(manifest.capabilities.unix_sockets).toBeUndefined();
    expect(manifestWithGrants(undefined, { unixSockets: false }).capabilities.unix_sockets).toBeUndefined();
    expect(manifestWithGrants(undefined, { unixSockets: true }).capabilities.unix_sockets).toBe(true);
    expect(manifest.capabilities.file_read).toEqual([]);
    expect(manifest.capabilities.network.allowlist).toEqual([]);
    expect(manifest.capabilities.env).toEqual([]);
  });

  it('adds exactly the flagged grants to a base manifest, writable paths readable too', () => {
    const base = parseManifest({
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name: 'base',
      capabilities: { file_read: ['/data/**'], network: { denylist: ['10.0.0.0/8'] } },
      quotas: { memory_mb: 128 },
    });
    const manifest = manifestWithGrants(base, {
      files: [{ path: '/srv/not-created-yet', writable: true }],
      network: ['api.example.com:443'],
      env: ['HOME'],
      quotas: { cpu_ms_per_request: 500 },
    });
    expect(manifest.capabilities.file_read).toEqual(['/data/**', '/srv/not-created-yet']);
    expect(manifest.capabilities.file_write).toEqual(['/srv/not-created-yet']);
    expect(manifest.capabilities.network).toEqual({
      allowlist: ['api.example.com:443'],
      denylist: ['10.0.0.0/8'],
    });
    expect(manifest.quotas.memory_mb).toBe(128);
    expect(manifest.quotas.cpu_ms_per_request).toBe(500);
  });

  it('--no-node-preload turns network.node_preload off and nothing else; without it the base manifest decides', () => {
    expect(manifestWithGrants(undefined, {}).capabilities.network.node_preload).toBeUndefined();
    expect(
      manifestWithGrants(undefined, { nodePreload: true }).capabilities.network.node_preload,
    ).toBeUndefined();
    const off = manifestWithGrants(undefined, { nodePreload: false, network: ['api.example.com'] });
    expect(off.capabilities.network).toEqual({
      allowlist: ['api.example.com'],
      denylist: [],
      node_preload: false,
    });
    const base = parseManifest({
      apiVersion: 'oacp.dev/v1',
      kind: 'CapabilityManifest',
      name: 'base',
      capabilities: { network: { node_preload: false } },
    });
    expect(manifestWithGrants(base, { nodePreload: true }).capabilities.network.node_preload).toBe(false);
    expect(() =>
      parseManifest({
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'bad',
        capabilities: { network: { node_preload: 'no' } },
      }),
    ).toThrow(/node_preload/);
  });

  it('refuses a malformed grant, naming the field', () => {
    expect(() => manifestWithGrants(undefined, { network: ['http://not a host'] })).toThrow(
      /capabilities\.network\.allowlist/,
    );
    expect(() => manifestWithGrants(undefined, { env: ['BAD-NAME'] })).toThrow(/capabilities\.env/);
  });
});

describe('manifestWithGrants file grants', () => {
  it('grants an existing directory with everything in it, and a file or glob as written', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'oacp-grant-'));
    writeFileSync(join(dir, 'file.txt'), 'x');
    const manifest = manifestWithGrants(undefined, {
      files: [
        { path: `${dir}/`, writable: false },
        { path: join(dir, 'file.txt'), writable: true },
        { path: '/srv/*.log', writable: false },
      ],
    });
    expect(manifest.capabilities.file_read).toEqual([`${dir}/**`, join(dir, 'file.txt'), '/srv/*.log']);
    expect(manifest.capabilities.file_write).toEqual([join(dir, 'file.txt')]);
  });
});
