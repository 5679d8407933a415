import { describe, expect, it } from 'vitest';
import type { Mount } from './mount-plan.js';
import { refuseSystemWrites } from './system-writes.js';

const ROOT = { uid: 0, gid: 0 };
const WORKLOAD = { uid: 2_030_000_000, gid: 2_030_000_000 };
const rw = (source: string, target = source): Mount => ({ source, target, writable: true });
const check =
  (mount: Mount, user = ROOT) =>
  () =>
    refuseSystemWrites([mount], () => user);

describe('refuseSystemWrites', () => {
  it('refuses a writable grant of, under, or holding a system directory when writes land as root', () => {
    for (const path of [
      '/usr/bin',
      '/usr',
      '/etc',
      '/opt/app',
      '/var/lib/dpkg',
      '/var/spool/cron',
      '/boot',
      '/',
    ]) {
      expect(check(rw(path)), path).toThrow(/system directory/);
    }
    expect(check(rw('/usr/bin/ls'))).toThrow('grant /usr/bin/ls:rw is under the system directory /usr');
    expect(check(rw('/'))).toThrow('grant /:rw holds the system directory /bin');
    expect(check(rw('/etc'))).toThrow('grant /etc:rw is the system directory /etc');
  });

  it('checks the real source too: a grant named /bin that is /usr/bin on the host', () => {
    expect(check(rw('/usr/bin', '/tools'))).toThrow(
      'grant /tools:rw (host /usr/bin) is under the system directory /usr',
    );
  });

  it('counts root gid alone as privileged', () => {
    expect(check(rw('/opt/app'), { uid: 1000, gid: 0 })).toThrow(/uid 1000 gid 0/);
  });

  it('names the read-only way out and the manifest field', () => {
    expect(check(rw('/usr/bin'))).toThrow(/--allow-files \/usr\/bin, manifest: capabilities\.file_read/);
  });

  it('lets writes land as an unprivileged id, and read-only system grants, and data directories', () => {
    expect(check(rw('/var/tmp'), WORKLOAD)).not.toThrow();
    expect(check(rw('/opt/app'), { uid: 1000, gid: 1000 })).not.toThrow();
    expect(check({ source: '/usr', target: '/usr', writable: false })).not.toThrow();
    for (const path of [
      '/home/alice',
      '/root/project',
      '/srv/data',
      '/tmp/x',
      '/mnt/disk',
      '/optional',
      '/usrdata',
    ]) {
      expect(check(rw(path)), path).not.toThrow();
    }
  });

  it('asks the identity of each writable grant by its index', () => {
    const asked: number[] = [];
    const mounts = [rw('/tmp/a'), { source: '/usr', target: '/usr', writable: false }, rw('/opt/x')];
    refuseSystemWrites(mounts, (index) => {
      asked.push(index);
      return WORKLOAD;
    });
    expect(asked).toEqual([2]);
  });
});
