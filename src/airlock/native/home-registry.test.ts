import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registryEntry } from '../../identity/home-registry.js';
import { oacpHomeAt } from './home-registry.js';

const root = mkdtempSync(join(tmpdir(), 'oacp-home-at-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A project whose dependencies alone hold more entries than the look below a grant may read. */
function projectWithHomeBeside(name: string): string {
  const project = join(root, name);
  for (let i = 0; i < 4200; i++)
    mkdirSync(join(project, 'node_modules', `dep-${i}`, 'lib'), { recursive: true });
  // A dependency that ships a file named master.key is no OACP home: it must not make the grant refused.
  writeFileSync(join(project, 'node_modules', 'dep-7', 'master.key'), 'not a key');
  mkdirSync(join(project, 'state', 'oacp'), { recursive: true });
  writeFileSync(join(project, 'state', 'oacp', 'master.key'), 'k', { mode: 0o600 });
  return project;
}

describe('oacpHomeAt: an OACP home a grant would show, by its marker files', () => {
  it('finds a home two levels below a grant even beside a node_modules larger than the look', () => {
    const project = projectWithHomeBeside('app');
    expect(oacpHomeAt(project)).toBe(join(project, 'state', 'oacp'));
  });

  it('finds the home a grant lies inside, and takes no dependency shipping master.key for one', () => {
    const project = projectWithHomeBeside('lib');
    expect(oacpHomeAt(join(project, 'state', 'oacp', 'keys'))).toBe(join(project, 'state', 'oacp'));
    const small = join(root, 'small');
    for (let i = 0; i < 10; i++) mkdirSync(join(small, 'node_modules', `dep-${i}`), { recursive: true });
    writeFileSync(join(small, 'node_modules', 'dep-7', 'master.key'), 'not a key');
    expect(oacpHomeAt(small)).toBeUndefined();
    expect(oacpHomeAt(join(small, 'node_modules'))).toBeUndefined();
  });
});

describe('oacpHomeAt: each marker, at each level of the look', () => {
  /** A grant directory holding `build(grant)`'s entries, fresh per case. */
  const grantWith = (name: string, build: (grant: string) => void): string => {
    const grant = join(root, 'levels', name);
    mkdirSync(grant, { recursive: true });
    build(grant);
    return grant;
  };

  it('finds a home marked by keys/airlock.json alone, one and two levels down', () => {
    const one = grantWith('airlock-one', (grant) => {
      mkdirSync(join(grant, 'a', 'keys'), { recursive: true });
      writeFileSync(join(grant, 'a', 'keys', 'airlock.json'), '{}');
    });
    expect(oacpHomeAt(one)).toBe(join(one, 'a'));
    const two = grantWith('airlock-two', (grant) => {
      mkdirSync(join(grant, 'a', 'b', 'keys'), { recursive: true });
      writeFileSync(join(grant, 'a', 'b', 'keys', 'airlock.json'), '{}');
    });
    expect(oacpHomeAt(two)).toBe(join(two, 'a', 'b'));
  });

  it('takes a dangling master.key symlink for a marker at both levels, as lstat does', () => {
    const one = grantWith('dangling-one', (grant) => {
      mkdirSync(join(grant, 'a'));
      symlinkSync('/nonexistent/master.key', join(grant, 'a', 'master.key'));
    });
    expect(oacpHomeAt(one)).toBe(join(one, 'a'));
    const two = grantWith('dangling-two', (grant) => {
      mkdirSync(join(grant, 'a', 'b'), { recursive: true });
      symlinkSync('/nonexistent/master.key', join(grant, 'a', 'b', 'master.key'));
    });
    expect(oacpHomeAt(two)).toBe(join(two, 'a', 'b'));
  });

  it('takes no `keys` file, no empty keys directory and no home three levels down for a home', () => {
    const grant = grantWith('none', (grant) => {
      mkdirSync(join(grant, 'a', 'b'), { recursive: true });
      writeFileSync(join(grant, 'a', 'keys'), 'a file');
      writeFileSync(join(grant, 'a', 'b', 'keys'), 'a file');
      mkdirSync(join(grant, 'c', 'keys'), { recursive: true });
      mkdirSync(join(grant, 'd', 'e', 'f'), { recursive: true });
      writeFileSync(join(grant, 'd', 'e', 'f', 'master.key'), 'k');
    });
    expect(oacpHomeAt(grant)).toBeUndefined();
  });

  it('does not enter a symlink to a home (the sandbox sees the link, not the home it names)', () => {
    const home = grantWith('linked-home', (dir) => writeFileSync(join(dir, 'master.key'), 'k'));
    const grant = grantWith('links', (grant) => symlinkSync(home, join(grant, 'a')));
    expect(oacpHomeAt(grant)).toBeUndefined();
  });
});

describe('registryEntry: where oacp init records a home', () => {
  it('names the entry by the path itself where it fits, else by a digest; both read back as the path', () => {
    const short = '/srv/gw/oacp';
    const long = `/srv/${'d'.repeat(200)}/oacp`;
    expect(registryEntry('/r', short)).toBe(`/r/p-${Buffer.from(short).toString('base64url')}`);
    expect(registryEntry('/r', long)).toMatch(/^\/r\/[0-9a-f]{32}$/);
    expect(Buffer.from(registryEntry('/r', short).slice('/r/p-'.length), 'base64url').toString()).toBe(short);
  });
});
