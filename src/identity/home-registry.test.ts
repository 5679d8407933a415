import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { accountRegistry, registerOacpHome, registryEntry } from './home-registry.js';

/**
 * KeyStore.init records a home before any key exists. Another init running at the same moment
 * prunes entries of homes with no markers, and dropped that entry at once: the home, once its keys
 * were written, was unknown to the registry and unguarded three levels below a grant (seen as a
 * flaky test/escape/registered-home-binds.test.ts under a full parallel run). An entry now stays
 * through a grace period; only a stale one for a home with no markers is dropped.
 */
describe('the home registry under concurrent inits', () => {
  const root = mkdtempSync(join(tmpdir(), 'oacp-registry-race-'));
  const account = join(root, 'account');
  const made: string[] = [];
  afterAll(() => {
    for (const entry of made) if (existsSync(entry)) unlinkSync(entry);
    rmSync(root, { recursive: true, force: true });
  });

  it('a home another init is still making keeps its entry; a stale entry of a home with no keys goes', () => {
    const making = join(root, 'making');
    const other = join(root, 'other');
    mkdirSync(making);
    mkdirSync(other);
    made.push(...registerOacpHome(making, account));
    const entry = registryEntry(accountRegistry(account), making);
    expect(existsSync(entry)).toBe(true);

    // Another init, while `making` has no key yet.
    made.push(...registerOacpHome(other, account));
    expect(existsSync(entry)).toBe(true);

    // Long after, `making` still has no key (its init failed, or it was emptied): dropped.
    const old = new Date(Date.now() - 60 * 60_000);
    for (const file of made.filter((f) => f.endsWith(entry.split('/').at(-1) ?? '')))
      utimesSync(file, old, old);
    made.push(...registerOacpHome(other, account));
    expect(existsSync(entry)).toBe(false);
  });
});
