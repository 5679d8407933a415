import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exposesHome, knownHomeIdentities, mountExposingHome } from './protected-identity.js';

describe('knownHomeIdentities: registered and account homes by identity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-known-homes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const home = join(dir, 'svc', 'a', 'oacp');
  mkdirSync(home, { recursive: true });

  it('names the home and every directory above it, whatever path shows them', () => {
    const guard = knownHomeIdentities([home]);
    expect(exposesHome([statSync(home)], guard)).toContain(`it shows ${home} of the OACP home`);
    expect(exposesHome([statSync(join(dir, 'svc'))], guard)).toContain(
      `it is ${join(dir, 'svc')}, which holds`,
    );
    expect(exposesHome([statSync(tmpdir()), statSync(dir)], guard)).toContain(`it is ${dir}, which holds`);
    expect(mountExposingHome(dir, [join(dir, 'svc')], guard)).toContain(
      `holds the mount ${join(dir, 'svc')}`,
    );
    mkdirSync(join(dir, 'beside'));
    expect(exposesHome([statSync(join(dir, 'beside'))], guard)).toBeUndefined();
  });

  it('refuses nothing by a path whose symlink (swapped in while it was stat-ed) led to another directory', () => {
    // Another account lists /ITS/link/oacp; while it is stat-ed, link points at a victim's directory.
    const victim = join(dir, 'victim');
    mkdirSync(join(victim, 'oacp'), { recursive: true });
    const its = join(dir, 'its');
    mkdirSync(its);
    symlinkSync(victim, join(its, 'link'));
    const guard = knownHomeIdentities([join(its, 'link', 'oacp')]);
    expect(exposesHome([statSync(join(victim, 'oacp'))], guard)).toBeUndefined();
    expect(exposesHome([statSync(victim)], guard)).toBeUndefined();
    expect(mountExposingHome(dir, [victim], guard)).toBeUndefined();
  });
});
