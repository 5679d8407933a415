import { describe, expect, it } from 'vitest';
import { ManifestSchema } from '../../capability/manifest.js';
import { detectTee } from './detect.js';
import { TeeTier } from './tier.js';

const manifest = ManifestSchema.parse({ apiVersion: 'oacp.dev/v1', kind: 'CapabilityManifest', name: 'tee' });
const nothing = { exists: () => false, cpuinfo: () => 'flags\t\t: fpu vme sse2\n' };

describe('tee detection', () => {
  it('finds SEV-SNP, TDX and SGX by their devices', () => {
    const devices = new Set(['/dev/sev-guest', '/dev/tdx_guest', '/dev/sgx_enclave']);
    expect(
      detectTee({ exists: (path) => devices.has(path), cpuinfo: () => '' }).map((entry) => entry.kind),
    ).toEqual(['sev-snp', 'tdx', 'sgx']);
  });

  it('notices an sgx CPU flag without the driver', () => {
    expect(detectTee({ exists: () => false, cpuinfo: () => 'flags\t\t: fpu sgx sse2\n' })).toEqual([
      { kind: 'sgx', evidence: 'cpu flag sgx (no /dev/sgx_enclave: driver not loaded)' },
    ]);
  });

  it('finds nothing on an ordinary host', () => {
    expect(detectTee(nothing)).toEqual([]);
  });
});

describe('tee tier', () => {
  it('is unavailable without TEE hardware, saying what is missing', async () => {
    const availability = await new TeeTier(nothing).availability();
    expect(availability).toMatchObject({
      available: false,
      reason: expect.stringMatching(/no TEE on this host/),
    });
  });

  it('stays unavailable on TEE hardware because enclave launch is not implemented', async () => {
    const tier = new TeeTier({ exists: (path) => path === '/dev/sev-guest', cpuinfo: () => '' });
    expect(await tier.availability()).toMatchObject({
      available: false,
      reason: expect.stringMatching(/sev-snp.*not implemented/),
    });
  });

  it('refuses to start', async () => {
    await expect(
      new TeeTier(nothing).start({ command: '/bin/true', args: [], manifest }),
    ).rejects.toMatchObject({
      code: 'AIRLOCK_TIER_UNAVAILABLE',
    });
  });
});
