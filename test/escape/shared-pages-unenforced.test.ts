import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CgroupHost } from '../../src/airlock/cgroups/index.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { manifest, PYTHON, run } from './native-harness.js';

/**
 * The polled memory fallback (no memory cgroup: a regular user on cgroup
 * v1) summed each process's RSS, counting a page shared by N processes N
 * times: a browser server (puppeteer's chromium: 906 MiB summed RSS, 375 MiB
 * proportional) was killed at a 512 MiB limit it never reached. The same
 * shape here: 96 MiB touched, then four forks sharing it copy-on-write
 * (about 500 MiB summed RSS, about 110 MiB proportional), under a 256 MiB
 * limit. It runs; with each fork writing its copy (private pages, about
 * 500 MiB really held) it is still killed.
 */
const reason = 'cgroup v1 memory at /sys/fs/cgroup/memory is not writable by uid 1000 (v1 needs root)';
const NONE: CgroupHost = {
  memory: { available: false, reason },
  pids: { available: false, reason },
  cpu: { available: false, reason },
  io: { available: false, reason },
};
const tier = new HardenedTier({ pollMs: 25, cgroups: NONE });
const ok = (await tier.availability()).available && existsSync(PYTHON);

const FORKS = `
import os, sys, time
buf = bytearray(96 << 20)
for i in range(0, len(buf), 4096): buf[i] = 1
r, w = os.pipe()
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        if sys.argv[1] == 'private':
            for i in range(0, len(buf), 4096): buf[i] = 2
        os.write(w, b'x')
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
for _ in kids: os.read(r, 1)
time.sleep(1)
for pid in kids: os.kill(pid, 9); os.waitpid(pid, 0)
print('held')
`;

const forks = (mode: 'shared' | 'private') =>
  run(tier, {
    command: PYTHON,
    args: ['-c', FORKS, mode],
    manifest: manifest({}, { memory_mb: 256 }, { allow_unenforced: ['memory', 'pids', 'cpu', 'disk_io'] }),
  });

describe.skipIf(!ok)('hardened tier, polled memory limit: pages shared by a process tree count once', () => {
  it('fault: five processes sharing 96 MiB copy-on-write run under a 256 MiB limit', async () => {
    const result = await forks('shared');
    expect(result.status.killedBy).toBeUndefined();
    expect([result.out, result.status.code]).toEqual(['held\n', 0]);
  });

  it('attack: the same forks each writing their copy hold about 500 MiB and are killed', async () => {
    const result = await forks('private');
    expect(result.status.killedBy).toBe('memory');
    expect(result.out).toBe('');
  });
});
