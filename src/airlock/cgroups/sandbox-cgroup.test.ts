import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockDeviceOf } from './block-device.js';
import { detectCgroupHost } from './host.js';
import { createSandboxCgroup } from './sandbox-cgroup.js';

/** Against the real cgroup file system: the kernel must accept and keep every limit written. */
const host = detectCgroupHost();
const all = Object.values(host).every((support) => support.available);
const device = blockDeviceOf(import.meta.dirname);

describe.skipIf(!all)('createSandboxCgroup on this host', () => {
  it('writes memory without swap, pids, one CPU and the disk throttle, then removes every directory', async () => {
    const cgroup = createSandboxCgroup(host, `test-${process.pid}-${Date.now()}`, {
      memoryBytes: 64 * 1024 * 1024,
      pids: 40,
      cpus: 1,
      ...(device === undefined ? {} : { io: { bytesPerSecond: 1024 * 1024, devices: [device] } }),
    });
    const dirs = cgroup.procsFiles.map((file) => file.replace(/\/cgroup\.procs$/, ''));
    const text = (name: string): string => {
      for (const dir of dirs) {
        try {
          return readFileSync(`${dir}/${name}`, 'utf8');
        } catch {
          // Not this hierarchy.
        }
      }
      return '';
    };
    if (host.memory.available && host.memory.version === 1) {
      expect(text('memory.limit_in_bytes').trim()).toBe(String(64 * 1024 * 1024));
      expect(text('cpu.cfs_quota_us').trim()).toBe('100000');
      if (device !== undefined)
        expect(text('blkio.throttle.write_bps_device')).toContain(`${device} 1048576`);
    } else {
      expect(text('memory.max').trim()).toBe(String(64 * 1024 * 1024));
      expect(text('cpu.max').trim()).toBe('100000 100000');
      if (device !== undefined) expect(text('io.max')).toContain(`${device} rbps=1048576 wbps=1048576`);
    }
    expect(text('pids.max').trim()).toBe('40');
    expect(cgroup.cpuUsageMs()).toBe(0);
    expect(cgroup.oomKills()).toBe(0);
    await cgroup.remove();
    for (const dir of dirs) expect(() => statSync(dir)).toThrow(/ENOENT/);
  });
});
