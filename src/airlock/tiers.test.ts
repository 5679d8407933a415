import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilerFact, doctorReport, hostFacts, unixSocketFact } from './doctor.js';
import { MUSL_WRAPPER } from './native/launcher/musl.js';
import type { Availability, TierName } from './sandbox.js';
import { createTierRegistry, TierUnavailableError } from './tiers.js';

function fake(name: TierName, availability: Availability) {
  return { name, availability: async () => availability };
}

const registry = createTierRegistry([
  fake('light', { available: true, detail: 'plain process' }),
  fake('hardened', { available: true, detail: 'bwrap' }),
  fake('gvisor', { available: false, reason: 'runsc not found', remedy: 'apt-get install runsc' }),
]);

describe('tier registry', () => {
  it('returns the tier asked for when it is available', async () => {
    expect((await registry.selectTier('hardened')).name).toBe('hardened');
  });

  it('refuses an unavailable tier with its reason and remedy, never falling back', async () => {
    const error = await registry.selectTier('gvisor').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TierUnavailableError);
    expect(error).toMatchObject({
      code: 'AIRLOCK_TIER_UNAVAILABLE',
      tier: 'gvisor',
      reason: 'runsc not found',
      remedy: 'apt-get install runsc',
    });
  });

  it('refuses a tier nobody registered', async () => {
    await expect(registry.selectTier('tee')).rejects.toMatchObject({
      code: 'AIRLOCK_TIER_UNAVAILABLE',
      reason: expect.stringMatching(/registers no tee tier \(registered: light, hardened, gvisor\)/),
    });
  });

  it('treats a failing availability check as unavailable', async () => {
    const broken = createTierRegistry([
      {
        name: 'hardened' as const,
        availability: async (): Promise<Availability> => {
          throw new Error('probe crashed');
        },
      },
    ]);
    await expect(broken.selectTier('hardened')).rejects.toMatchObject({
      reason: expect.stringMatching(/probe crashed/),
    });
  });

  it('refuses two tiers with one name', () => {
    expect(() =>
      createTierRegistry([
        fake('light', { available: true, detail: '' }),
        fake('light', { available: true, detail: '' }),
      ]),
    ).toThrow(/registered twice/);
  });
});

describe('doctor', () => {
  it('lists every tier with detail or reason and remedy', async () => {
    const report = await doctorReport(registry);
    expect(report.tiers).toEqual([
      { tier: 'light', available: true, detail: 'plain process' },
      { tier: 'hardened', available: true, detail: 'bwrap' },
      { tier: 'gvisor', available: false, detail: 'runsc not found', remedy: 'apt-get install runsc' },
    ]);
  });

  it('says which C library the launcher was built against, and the cause when it is not musl', () => {
    const host = hostFacts().find((fact) => fact.name === 'C compiler');
    const musl = existsSync(MUSL_WRAPPER);
    expect(host?.detail).toMatch(
      musl ? /; launcher oacp-launch: static-pie, musl$/ : /; launcher oacp-launch: \S+, glibc/,
    );
    const glibc = compilerFact(() => ({ path: '/x', libc: 'glibc', linkage: 'static-pie' }));
    expect(glibc.detail).toContain('launcher oacp-launch: static-pie, glibc (');
    expect(glibc.detail).toContain(musl ? '.no-musl' : 'apt-get install musl-tools');
    const failed = compilerFact(() => {
      throw new Error('cannot build the launcher (oacp-launch) with /usr/bin/cc: boom');
    });
    expect(failed).toMatchObject({ ok: false, detail: expect.stringContaining('boom') });
  });

  it('reports the host facts the tiers depend on', () => {
    const names = hostFacts().map((fact) => fact.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'user namespaces',
        'seccomp filters',
        'cgroup memory',
        'cgroup pids',
        'cgroup cpu',
        'cgroup io',
        'bubblewrap',
        'runsc',
        'socat',
      ]),
    );
    const unix = hostFacts().find((fact) => fact.name === 'Unix sockets (hardened)');
    expect(unix?.detail).toContain('unless --allow-unix-sockets (manifest: capabilities.unix_sockets: true)');
    expect(unix?.detail).toContain(
      'host pathname sockets inside granted directories (:ro included) become connectable',
    );
    expect(unixSocketFact('6.18.44').detail).toContain("Landlock's abstract-socket scope)");
    expect(unixSocketFact('6.1.0').detail).toContain('kernel 6.1.0 predates');
    const cgroup = hostFacts().find((fact) => fact.name === 'cgroup memory');
    expect(cgroup?.detail).toMatch(/^cgroup v[12] at \/|--allow-unenforced memory/);
  });
});
