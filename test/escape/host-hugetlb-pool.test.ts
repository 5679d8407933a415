import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, isRoot, oacpCli, openDir, who } from './confine-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * Huge pages come from one pool for the whole host (vm.nr_hugepages, set
 * aside by the operator for a database, VMs or DPDK) and are not charged to
 * the memory cgroup. A hardened sandbox mapped them with MAP_HUGETLB or a
 * MFD_HUGETLB memfd, past its memory quota, and while it held them the
 * host's own users of the pool could not start. The filter now answers huge
 * page requests with ENOMEM, as a host with an empty pool does. gVisor maps
 * its own memory, never the host's pool.
 */
const POOL = '/proc/sys/vm/nr_hugepages';
const available = (await new HardenedTier().availability()).available;
const before = Number(readFileSync(POOL, 'utf8').trim());
// Root sets a small pool aside for the test (two 2 MiB pages) and gives the host its own value back after.
const canPool = isRoot || before > 0;
if (!canPool) console.log('skipping the huge page pool attack: the pool is empty and only root can fill it');

/** Maps and touches one huge page anonymously and one through a memfd, then reads the pool's free count. */
const HOG = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
failed = (None, 2**64 - 1)
said = lambda ok: 'ok' if ok else os.strerror(ctypes.get_errno())
page = 2 << 20
anon = libc.mmap(None, page, 3, 0x22 | 0x40000, -1, 0)
if anon not in failed: ctypes.memset(anon, 1, page)
fd = libc.memfd_create(b'pool', 0x4)
mapped = libc.mmap(None, page, 3, 0x1, fd, 0) if fd >= 0 and libc.ftruncate(fd, page) == 0 else None
if mapped not in failed: ctypes.memset(mapped, 1, page)
free = [line.split()[1] for line in open('/proc/meminfo') if line.startswith('HugePages_Free')]
print('anon', said(anon not in failed), 'memfd', said(mapped not in failed), 'free', free[0])
`;

describe.skipIf(!available || !canPool)("hardened: the host's huge page pool", () => {
  let pool = before;
  beforeAll(() => {
    if (before === 0) writeFileSync(POOL, '2');
    pool = Number(readFileSync(POOL, 'utf8').trim());
  });
  afterAll(() => {
    if (before === 0) writeFileSync(POOL, String(before));
  });

  for (const user of ATTACKERS) {
    it(`stays the host's while a sandbox maps huge pages (${who(user)}, through the CLI)`, async () => {
      expect(pool).toBeGreaterThan(0);
      const dir = openDir('oacp-hugetlb-');
      try {
        // A regular invoker on a cgroup v1 host has no controllers (oacpCli opts out for `asUser` itself).
        const optOut = isRoot ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io'];
        const result = await oacpCli(['run', ...optOut, '--', PYTHON, '-c', HOG], {
          env: { HOME: dir, OACP_HOME: join(dir, 'home') },
          ...(user === undefined ? {} : { asUser: user }),
        });
        // Read while the workload still held what it mapped: not one page of the pool is gone.
        expect(result.stdout.trim(), result.stderr).toBe(
          `anon Cannot allocate memory memfd Cannot allocate memory free ${pool}`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
