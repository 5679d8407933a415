import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ManifestSchema } from '../../src/capability/manifest.js';
import { registerOacpHome } from '../../src/identity/home-registry.js';
import { isRoot, openDir } from './confine-harness.js';

/**
 * Issue 9, item 2, against the speed work on sandbox starts: `KeyStore.init` writes a home's
 * registry entry BEFORE the home has any key, so a start that looked while it was "not a home"
 * must not keep that answer. The home lies three levels below the grant, where only the registry
 * finds it (the marker look goes two levels down). One tier serves every start, as a gateway's
 * does: whatever a start keeps across starts must see the keys appear, and a start with no grant
 * (which needs no registry) must not make the next one skip it.
 */
const available = (await new HardenedTier().availability()).available;

const manifest = (grant?: string) =>
  ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'registry-fresh',
    ...(grant === undefined ? {} : { capabilities: { file_read: [`${grant}/**`] } }),
    // As a regular user on a cgroup v1 host the kernel limits need root: polled instead.
    ...(isRoot ? {} : { quotas: { allow_unenforced: ['memory', 'pids', 'cpu'] } }),
  });

describe.skipIf(!available)('a registered home that gets its keys after a start looked', () => {
  const root = openDir('oacp-registry-fresh-');
  const entries: string[] = [];
  afterAll(() => {
    for (const entry of entries) rmSync(entry, { force: true });
    rmSync(root, { recursive: true, force: true });
  });

  const run = async (tier: HardenedTier, grant?: string): Promise<number | null> => {
    const sandbox = await tier.start({ command: '/bin/true', args: [], manifest: manifest(grant) });
    sandbox.stdout.resume();
    sandbox.stderr.resume();
    return (await sandbox.exit).code;
  };

  it.each(['master.key', join('keys', 'airlock.json')])(
    'registered, started (not yet a home), then %s written: the next start refuses the grant',
    async (marker) => {
      const srv = join(root, `srv-${marker.length}`);
      const home = join(srv, 'a', 'b', 'oacp');
      mkdirSync(join(home, 'keys'), { recursive: true });
      entries.push(...registerOacpHome(home));
      expect(entries.length).toBeGreaterThan(0);
      const tier = new HardenedTier();
      expect(await run(tier, srv)).toBe(0);
      expect(await run(tier)).toBe(0);
      writeFileSync(join(home, marker), 'SERVICE-KEY', { mode: 0o600 });
      await expect(run(tier, srv)).rejects.toThrow(`overlaps the OACP home ${home}`);
      // And gone again (the key removed): the grant is allowed once more.
      unlinkSync(join(home, marker));
      expect(await run(tier, srv)).toBe(0);
    },
    60_000,
  );
});
