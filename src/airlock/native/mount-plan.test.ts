import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planMounts } from './mount-plan.js';

const root = mkdtempSync(join(tmpdir(), 'oacp-plan-'));
mkdirSync(join(root, 'data/sub'), { recursive: true });
writeFileSync(join(root, 'data/a.txt'), 'a');
writeFileSync(join(root, 'data/secret.key'), 'k');
writeFileSync(join(root, 'data/sub/b.txt'), 'b');
mkdirSync(join(root, 'out'));
symlinkSync('/etc', join(root, 'data/etc-link'));
symlinkSync('/etc/hostname', join(root, 'hostname-link'));

afterAll(() => rmSync(root, { recursive: true, force: true }));

const none = { file_read: [] as string[], file_write: [] as string[] };

describe('planMounts', () => {
  it('binds a /** grant as its directory, read-only', () => {
    expect(planMounts({ ...none, file_read: [`${root}/data/**`] }, [])).toEqual([
      { source: `${root}/data`, target: `${root}/data`, writable: false },
    ]);
  });

  it('binds only matching files for a partial wildcard, never their siblings', () => {
    const mounts = planMounts({ ...none, file_read: [`${root}/data/*.txt`] }, []);
    expect(mounts.map((mount) => mount.target).sort()).toEqual([`${root}/data/a.txt`]);
  });

  it('makes a write grant writable and keeps it writable inside a read grant', () => {
    const mounts = planMounts({ file_read: [`${root}/**`], file_write: [`${root}/out/**`] }, []);
    expect(mounts).toEqual([
      { source: root, target: root, writable: false },
      { source: `${root}/out`, target: `${root}/out`, writable: true },
    ]);
  });

  it('drops a read grant already covered by a write grant', () => {
    const mounts = planMounts({ file_read: [`${root}/out/**`], file_write: [`${root}/out/**`] }, []);
    expect(mounts).toEqual([{ source: `${root}/out`, target: `${root}/out`, writable: true }]);
  });

  it('refuses a granted path that is a symlink leaving the grant', () => {
    expect(() => planMounts({ ...none, file_read: [`${root}/hostname-link`] }, [])).toThrow(
      /resolves through a symlink to \/etc\/hostname/,
    );
  });

  it('attack: a grant that cannot be resolved (a symlink loop; /proc/1/cwd as EACCES) is a refusal naming it, not a raw fs error', () => {
    symlinkSync(join(root, 'loop-b'), join(root, 'loop-a'));
    symlinkSync(join(root, 'loop-a'), join(root, 'loop-b'));
    expect(() => planMounts({ ...none, file_read: [`${root}/loop-a`] }, [])).toThrow(
      expect.objectContaining({
        code: 'AIRLOCK_BAD_SPEC',
        message: `file_read path ${root}/loop-a cannot be resolved (ELOOP); grant a path this user can reach`,
      }),
    );
  });

  it('skips grants that do not exist', () => {
    expect(planMounts({ ...none, file_write: [`${root}/missing/**`] }, [])).toEqual([]);
  });

  it('binds implicit read paths at their given and real locations', () => {
    const mounts = planMounts(none, [join(root, 'data/etc-link')]);
    expect(mounts).toContainEqual({
      source: '/etc',
      target: join(root, 'data/etc-link'),
      writable: false,
      implicit: true,
    });
    expect(mounts).toContainEqual({ source: '/etc', target: '/etc', writable: false, implicit: true });
  });
});
