import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cgroup2MountOf, cgroup2Mounts } from './mountinfo.js';

/** Lines as the kernel writes them (a systemd v2 host, a hybrid v1 host, a container). */
const PURE_V2 = [
  '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw',
  '26 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw',
  '35 26 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot',
].join('\n');
const FAVOURED = PURE_V2.replace(
  'rw,nsdelegate,memory_recursiveprot',
  'rw,nsdelegate,favordynmods,memory_recursiveprot',
);
const HYBRID = [
  '31 26 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  '42 31 0:39 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory',
].join('\n');
/** Optional fields of any number, and a mount point with a space (\040). */
const ODD =
  '50 22 0:40 /sub /run/my\\040cgroup rw master:3 shared:7 propagate_from:2 - cgroup2 none rw,favordynmods';

describe('cgroup2 mounts from /proc/self/mountinfo', () => {
  it('reads the superblock options after the separator, never the per-mount ones', () => {
    expect(cgroup2Mounts(PURE_V2)).toEqual([
      { mountPoint: '/sys/fs/cgroup', superOptions: ['rw', 'nsdelegate', 'memory_recursiveprot'] },
    ]);
    expect(cgroup2Mounts(FAVOURED)[0]?.superOptions).toContain('favordynmods');
    // A per-mount option that happened to read favordynmods does not count.
    expect(
      cgroup2Mounts(PURE_V2.replace('/sys/fs/cgroup rw,nosuid', '/sys/fs/cgroup rw,favordynmods,nosuid'))[0]
        ?.superOptions,
    ).not.toContain('favordynmods');
  });

  it('skips v1 hierarchies and other filesystems, handles optional fields and escaped paths', () => {
    expect(cgroup2Mounts(HYBRID).map((mount) => mount.mountPoint)).toEqual(['/sys/fs/cgroup/unified']);
    expect(cgroup2Mounts(ODD)).toEqual([
      { mountPoint: '/run/my cgroup', superOptions: ['rw', 'favordynmods'] },
    ]);
    expect(cgroup2Mounts('garbage\n\n- cgroup2')).toEqual([]);
  });

  it('finds the mount holding a cgroup directory (longest mount point, whole components)', () => {
    const both = `${PURE_V2}\n${ODD}`;
    expect(cgroup2MountOf('/sys/fs/cgroup/system.slice/oacp.service', both)?.mountPoint).toBe(
      '/sys/fs/cgroup',
    );
    expect(cgroup2MountOf('/sys/fs/cgroupX/a', both)).toBeUndefined();
    expect(cgroup2MountOf('/run/my cgroup/a', both)?.mountPoint).toBe('/run/my cgroup');
  });

  it('reads this host’s own mountinfo', () => {
    const own = cgroup2Mounts(readFileSync('/proc/self/mountinfo', 'utf8'));
    for (const mount of own) expect(mount.superOptions[0]).toMatch(/^r[ow]$/);
  });
});
