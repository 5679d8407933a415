import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeBundle } from './bundle.js';
import { ociConfig } from './oci-config.js';

const plan = {
  args: ['/usr/bin/python3', '-c', 'print(1)'],
  env: { PATH: '/usr/bin', KEEP: 'x' },
  cwd: '/tmp',
  system: [
    { kind: 'bind', path: '/usr', directory: true },
    { kind: 'symlink', path: '/bin', target: 'usr/bin' },
  ] as const,
  etc: [{ source: '/etc/hostname', target: '/etc/passwd' }],
  mounts: [
    { source: '/srv/in', target: '/srv/in', writable: false },
    { source: '/srv/out', target: '/srv/out', writable: true },
  ],
  tmpBytes: 1 << 20,
  shmBytes: 2 << 20,
  rlimits: { nofile: 64, nproc: 16, fsizeBytes: 1 << 20 },
};

const dir = mkdtempSync(join(tmpdir(), 'oacp-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ociConfig', () => {
  const config = ociConfig(plan);

  it('drops every capability, sets no_new_privs and a read-only root', () => {
    expect(Object.values(config.process.capabilities).every((list) => list.length === 0)).toBe(true);
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.root).toEqual({ path: 'rootfs', readonly: true });
  });

  it('gives /dev/shm its own tmpfs, sized to the memory quota, open to the workload', () => {
    expect(config.mounts.find((mount) => mount.destination === '/dev/shm')).toEqual({
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'nodev', 'noexec', `size=${2 << 20}`, 'mode=1777'],
    });
  });

  it('unshares the network and the other namespaces', () => {
    expect(config.linux.namespaces.map((ns) => ns.type).sort()).toEqual([
      'ipc',
      'mount',
      'network',
      'pid',
      'uts',
    ]);
  });

  it('binds system dirs and read grants read-only, write grants read-write', () => {
    const options = (destination: string) =>
      config.mounts.find((mount) => mount.destination === destination)?.options;
    expect(options('/usr')).toContain('ro');
    expect(options('/etc/passwd')).toContain('ro');
    expect(options('/srv/in')).toContain('ro');
    expect(options('/srv/out')).toContain('rw');
    expect(config.mounts.find((mount) => mount.destination === '/bin')).toBeUndefined();
  });

  it('caps /tmp and sets the rlimits, core dumps off', () => {
    expect(config.mounts.find((mount) => mount.destination === '/tmp')?.options).toContain(`size=${1 << 20}`);
    expect(config.process.rlimits).toContainEqual({ type: 'RLIMIT_NPROC', hard: 16, soft: 16 });
    expect(config.process.rlimits).toContainEqual({ type: 'RLIMIT_CORE', hard: 0, soft: 0 });
    expect(config.process.env).toEqual(['PATH=/usr/bin', 'KEEP=x']);
  });

  it('writes a bundle whose rootfs holds only mount points and symlinks', () => {
    const bundle = join(dir, 'bundle');
    writeBundle(bundle, config, [{ path: '/bin', target: 'usr/bin' }]);
    expect(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))).toEqual(config);
    expect(readlinkSync(join(bundle, 'rootfs/bin'))).toBe('usr/bin');
    expect(statSync(join(bundle, 'rootfs/etc/passwd')).size).toBe(0);
    expect(statSync(join(bundle, 'rootfs/usr')).isDirectory()).toBe(true);
  });
});
