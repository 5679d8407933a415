import { describe, expect, it } from 'vitest';
import { parseMountinfo } from '../../core/mountinfo.js';
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
    // /run (and /var/run, its link) holds what root's services read at run time: units, udev rules, sockets.
    for (const path of ['/run/systemd/system', '/run/udev/rules.d', '/run/docker.sock', '/run'])
      expect(check(rw(path)), path).toThrow(/system directory \/run/);
    expect(check(rw('/run/user/1000'), { uid: 1000, gid: 1000 })).not.toThrow();
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
    expect(asked).toEqual([0, 2]);
  });

  describe('a system directory under another name (a bind mount, a second mount)', () => {
    // A host whose root filesystem is 8:1 with /boot on 8:2, /srv/data on 8:3; /mnt/lib is a bind of /usr/lib,
    // /mnt/again a second mount of the root filesystem, /mnt/bootbind a bind of /boot/grub,
    // /mnt/ok a bind of /srv/data/x and /mnt/home a bind of the root filesystem's /home/alice.
    const mountinfo = [
      '21 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '22 21 8:2 / /boot rw,relatime shared:2 - ext4 /dev/sda2 rw',
      '23 21 8:3 / /srv/data rw,relatime shared:3 - ext4 /dev/sda3 rw',
      '24 21 8:1 /usr/lib /mnt/lib rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '25 21 8:1 / /mnt/again rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '26 21 8:2 /grub /mnt/bootbind rw,relatime shared:2 - ext4 /dev/sda2 rw',
      '27 21 8:3 /x /mnt/ok rw,relatime shared:3 - ext4 /dev/sda3 rw',
      '28 21 8:1 /home/alice /mnt/home rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '29 21 0:40 / /mnt/stack rw - tmpfs tmpfs rw',
      '30 21 8:1 /etc /mnt/stack rw - ext4 /dev/sda1 rw',
      // Overlays whose writes land in /usr/lib, in /tmp, and in a directory this namespace does not show.
      '31 21 0:50 / /ov/usr rw - overlay overlay rw,lowerdir=/srv/low,upperdir=/usr/lib,workdir=/usr/work',
      '32 21 0:51 / /ov/tmp rw - overlay overlay rw,lowerdir=/srv/low,upperdir=/tmp,workdir=/tmp/w',
      '33 21 0:52 / /ov/elsewhere rw - overlay overlay rw,lowerdir=/l,upperdir=/nonexistent/diff,workdir=/w',
      '34 21 0:53 / /ov/ro rw - overlay overlay ro,lowerdir=/usr/lib:/usr/share',
    ].join('\n');
    const table = () => parseMountinfo(mountinfo);
    const bound =
      (mount: Mount, user = ROOT) =>
      () =>
        refuseSystemWrites([mount], () => user, table);

    it("refuses a bind of a system directory's subdirectory, naming what it shows", () => {
      expect(bound(rw('/mnt/lib/x86_64-linux-gnu'))).toThrow(
        'grant /mnt/lib/x86_64-linux-gnu:rw shows /usr/lib/x86_64-linux-gnu of the filesystem that holds the system directory /usr',
      );
      expect(bound(rw('/mnt/lib', '/data'))).toThrow('grant /data:rw (host /mnt/lib) shows /usr/lib');
    });

    it('refuses a second mount of the root filesystem (it holds every system directory) and a bind inside a separate /boot', () => {
      expect(bound(rw('/mnt/again'))).toThrow(
        // /bin on hosts where it is a directory, else (merged /usr: a link) /etc.
        /shows \/ of the filesystem that holds the system directory \/(bin|etc) /,
      );
      expect(bound(rw('/mnt/bootbind'))).toThrow(
        /shows \/grub of the filesystem that holds the system directory \/boot/,
      );
    });

    it('refuses a grant holding a mount that shows a system directory: it is bound with the grant', () => {
      // /mnt holds /mnt/lib (a bind of /usr/lib) and /mnt/again (the root filesystem again).
      expect(bound(rw('/mnt'))).toThrow(
        'grant /mnt:rw holds a mount at /mnt/lib that shows /usr/lib of the filesystem that holds the system directory /usr',
      );
      expect(bound(rw('/mnt', '/data'))).toThrow('grant /data:rw (host /mnt) holds a mount at /mnt/lib');
      // /srv holds only /srv/data, a filesystem of data.
      expect(bound(rw('/srv'))).not.toThrow();
      expect(bound(rw('/mnt'), WORKLOAD)).not.toThrow();
    });

    it('refuses a grant on or holding an overlay whose upper directory (where its writes land) is a system directory', () => {
      expect(bound(rw('/ov/usr/bin'))).toThrow(
        'grant /ov/usr/bin:rw writes through the overlay at /ov/usr into its upper directory /usr/lib, which overlaps the system directory /usr',
      );
      expect(bound(rw('/ov'))).toThrow(
        /writes through the overlay at \/ov\/usr into its upper directory \/usr\/lib/,
      );
      expect(bound(rw('/ov/tmp'))).not.toThrow();
      expect(bound(rw('/ov/elsewhere'))).not.toThrow();
      expect(bound(rw('/ov/ro'))).not.toThrow();
      expect(bound(rw('/ov/usr'), WORKLOAD)).not.toThrow();
    });

    it('takes the newest of mounts stacked on one point', () => {
      expect(bound(rw('/mnt/stack/cron.d'))).toThrow(/shows \/etc\/cron\.d/);
    });

    it('passes binds of data, the same binds written as an unprivileged id, and read-only binds', () => {
      expect(bound(rw('/mnt/ok'))).not.toThrow();
      expect(bound(rw('/mnt/home/project'))).not.toThrow();
      expect(bound(rw('/srv/data/y'))).not.toThrow();
      expect(bound(rw('/mnt/lib'), WORKLOAD)).not.toThrow();
      expect(bound({ source: '/mnt/lib', target: '/mnt/lib', writable: false })).not.toThrow();
    });

    it('refuses when the mount table cannot be read (fail closed), and reads it only for a privileged writable grant', () => {
      let reads = 0;
      const unreadable = () => {
        reads += 1;
        throw Object.assign(new Error('no /proc'), { code: 'ENOENT' });
      };
      expect(() => refuseSystemWrites([rw('/srv/data/y')], () => ROOT, unreadable)).toThrow(
        /cannot be checked without \/proc\/self\/mountinfo \(ENOENT\)/,
      );
      reads = 0;
      refuseSystemWrites([rw('/srv/data/y')], () => WORKLOAD, unreadable);
      refuseSystemWrites([{ source: '/srv/data/y', target: '/y', writable: false }], () => ROOT, unreadable);
      expect(reads).toBe(0);
    });
  });
});
