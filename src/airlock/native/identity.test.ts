import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveIdentity, WORKLOAD_ID, WORKLOAD_ID_COUNT } from './identity.js';

const isRoot = process.getuid?.() === 0;
const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function dir(mode: number): string {
  const path = mkdtempSync(join(tmpdir(), 'oacp-identity-'));
  chmodSync(path, mode);
  made.push(path);
  return path;
}
const quotas = (...names: 'identity'[]) => ({ allow_unenforced: names });

describe('resolveIdentity with an explicit account', () => {
  it('refuses a uid of the leased range: the next sandbox leasing it would kill that workload', () => {
    const input = (uid: number) => ({
      requested: { uid, gid: uid },
      mounts: [],
      executable: '/bin/sh',
      idmap: () => false,
      quotas: quotas(),
      parents: true,
    });
    expect(() => resolveIdentity(input(WORKLOAD_ID + 7))).toThrow(
      `runAs uid ${WORKLOAD_ID + 7} is one of the workload ids OACP leases to sandboxes`,
    );
    expect(() => resolveIdentity(input(WORKLOAD_ID + WORKLOAD_ID_COUNT))).toThrow(/leases to sandboxes/);
    expect(resolveIdentity(input(WORKLOAD_ID + WORKLOAD_ID_COUNT + 1)).user?.uid).toBe(
      WORKLOAD_ID + WORKLOAD_ID_COUNT + 1,
    );
  });
});

describe.skipIf(!isRoot)('resolveIdentity as root', () => {
  it('runs as the dedicated id and idmaps only the grants that id cannot use', () => {
    const open = dir(0o755);
    const closed = dir(0o700);
    let probed = 0;
    const identity = resolveIdentity({
      mounts: [
        { source: open, target: open, writable: false },
        { source: closed, target: closed, writable: true },
      ],
      executable: '/bin/sh',
      idmap: () => {
        probed++;
        return true;
      },
      quotas: quotas(),
      parents: true,
    });
    expect(identity.user).toEqual({ uid: WORKLOAD_ID, gid: WORKLOAD_ID });
    expect(identity.idmaps).toEqual([{ index: 1, owner: { uid: 0, gid: 0 } }]);
    expect(probed).toBe(1);
  });

  it('never probes when no grant needs an idmap', () => {
    const identity = resolveIdentity({
      mounts: [{ source: dir(0o755), target: '/data', writable: false }],
      executable: '/bin/sh',
      idmap: () => {
        throw new Error('probed');
      },
      quotas: quotas(),
      parents: true,
    });
    expect(identity).toEqual({ user: { uid: WORKLOAD_ID, gid: WORKLOAD_ID }, idmaps: [] });
  });

  it('without idmapped mounts a private root grant is refused, naming the opt-out', () => {
    const closed = dir(0o700);
    expect(() =>
      resolveIdentity({
        mounts: [{ source: closed, target: closed, writable: true }],
        executable: '/bin/sh',
        idmap: () => false,
        quotas: quotas(),
        parents: true,
      }),
    ).toThrow(/cannot make idmapped mounts.*--allow-unenforced identity/);
  });

  it('with the opt-out it falls back to the grants owner (root, without capabilities)', () => {
    const closed = dir(0o700);
    const identity = resolveIdentity({
      mounts: [{ source: closed, target: closed, writable: true }],
      executable: '/bin/sh',
      idmap: () => false,
      quotas: quotas('identity'),
      parents: true,
    });
    expect(identity).toEqual({ user: { uid: 0, gid: 0 }, idmaps: [] });
  });

  it('refuses a grant that not even its owner may use in the granted mode', () => {
    const locked = dir(0o500);
    expect(() =>
      resolveIdentity({
        mounts: [{ source: locked, target: locked, writable: true }],
        executable: '/bin/sh',
        idmap: () => true,
        quotas: quotas(),
        parents: true,
      }),
    ).toThrow(new RegExp(`${locked} \\(write\\)`));
  });

  it("'invoker' keeps root as root; an explicit account is used as is", () => {
    const mounts = [{ source: dir(0o755), target: '/data', writable: false }];
    const base = { mounts, executable: '/bin/sh', idmap: () => true, quotas: quotas(), parents: true };
    expect(resolveIdentity({ ...base, requested: 'invoker' }).user).toBeUndefined();
    expect(resolveIdentity({ ...base, requested: { uid: 65534, gid: 65534 } }).user).toEqual({
      uid: 65534,
      gid: 65534,
    });
  });

  it('refuses a writable system-directory grant whose writes would land as root, however the identity was chosen', () => {
    // A root-owned 0755 directory under /opt: the dedicated id cannot write it, so it would be idmapped to root.
    const system = mkdtempSync('/opt/oacp-identity-');
    made.push(system);
    chmodSync(system, 0o755);
    const base = { executable: '/bin/sh', idmap: () => true, quotas: quotas(), parents: true };
    const mounts = [{ source: system, target: system, writable: true }];
    expect(() => resolveIdentity({ ...base, mounts })).toThrow(
      `grant ${system}:rw is under the system directory /opt`,
    );
    expect(() =>
      resolveIdentity({ ...base, mounts, idmap: () => false, quotas: quotas('identity') }),
    ).toThrow(/system directory \/opt.*uid 0 gid 0/);
    expect(() => resolveIdentity({ ...base, mounts, requested: 'invoker' })).toThrow(
      /system directory \/opt/,
    );
    // Read-only, or writes landing as another account, pass.
    expect(
      resolveIdentity({ ...base, mounts: [{ ...mounts[0], writable: false }] as typeof mounts }).user,
    ).toEqual({ uid: WORKLOAD_ID, gid: WORKLOAD_ID });
    const nobodys = mkdtempSync('/opt/oacp-identity-');
    made.push(nobodys);
    chownSync(nobodys, 65534, 65534);
    const nobody = { uid: 65534, gid: 65534 };
    const theirs = [{ source: nobodys, target: nobodys, writable: true }];
    expect(resolveIdentity({ ...base, mounts: theirs, requested: nobody }).user).toEqual(nobody);
    expect(resolveIdentity({ ...base, mounts: theirs }).idmaps).toEqual([{ index: 0, owner: nobody }]);
  });

  it('refuses a writable grant every account may write (1777 /var/tmp, a 0777 folder): a later sandbox of its id would own what it left', () => {
    const open = dir(0o777);
    const input = (source: string, writable: boolean) => ({
      mounts: [{ source, target: source, writable }],
      executable: '/bin/sh',
      idmap: () => true,
      quotas: quotas(),
      parents: true,
      workload: { uid: WORKLOAD_ID + 5, gid: WORKLOAD_ID + 5 },
    });
    for (const source of ['/var/tmp', open])
      expect(() => resolveIdentity(input(source, true))).toThrow(
        `every account may write ${source}, so the files this sandbox leaves there would belong on the host to its workload uid ${WORKLOAD_ID + 5}, which a later sandbox may get`,
      );
    // Read-only it creates nothing there; a private folder is idmapped and written as its owner.
    expect(resolveIdentity(input('/var/tmp', false))).toEqual({
      user: { uid: WORKLOAD_ID + 5, gid: WORKLOAD_ID + 5 },
      idmaps: [],
    });
    expect(resolveIdentity(input(dir(0o700), true)).idmaps).toEqual([
      { index: 0, owner: { uid: 0, gid: 0 } },
    ]);
  });
});
