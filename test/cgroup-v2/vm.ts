import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * A throwaway QEMU guest with a real cgroup v2 kernel, for testing OACP's
 * v2 code on a host that is a cgroup v1 hybrid. The guest runs Debian's
 * stock kernel (`linux-image-amd64`, fetched with `apt-get download` and
 * cached by version), sees the host's root file system read-only over 9p,
 * mounts a unified cgroup2 hierarchy with every controller, and runs one
 * driver script as root (guest-init.sh says how). TCG, not KVM: the host's
 * /dev/kvm may not run an ordinary guest kernel.
 */

/** Kernel modules the guest loads, in dependency order (virtio, 9p, ext4). */
const MODULES = [
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci',
  'drivers/block/virtio_blk',
  'net/9p/9pnet',
  'net/9p/9pnet_virtio',
  'fs/netfs/netfs',
  'fs/fscache/fscache',
  'fs/9p/9p',
  'lib/crc16',
  'crypto/crc32c_generic',
  'fs/mbcache',
  'fs/jbd2/jbd2',
  'fs/ext4/ext4',
] as const;

const BUSYBOX = '/bin/busybox';
const QEMU = 'qemu-system-x86_64';

export interface GuestKernel {
  readonly vmlinuz: string;
  readonly initrd: string;
  readonly release: string;
}

function run(file: string, args: readonly string[], cwd?: string): string {
  return execFileSync(file, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd ? { cwd } : {}),
  });
}

function need(file: string, apt: string): void {
  try {
    run('sh', ['-c', `command -v ${file}`]);
  } catch {
    throw new Error(`${file} is missing: apt-get install -y ${apt}`);
  }
}

/** The versioned image package `linux-image-amd64` points at, and its version. */
function kernelPackage(): { name: string; version: string } {
  const depends = run('apt-cache', ['depends', 'linux-image-amd64']);
  const name = /Depends: (linux-image-[0-9][^\s]*-amd64)/.exec(depends)?.[1];
  if (name === undefined) throw new Error('apt-cache knows no linux-image-amd64 (run apt-get update)');
  const version = /^Version: (\S+)$/m.exec(run('apt-cache', ['show', '--no-all-versions', name]))?.[1];
  if (version === undefined) throw new Error(`apt-cache has no version of ${name}`);
  return { name, version };
}

/** Packs a directory as a gzipped newc cpio archive (busybox cpio). */
function packInitramfs(dir: string, out: string): void {
  const list = run(BUSYBOX, ['find', '.'], dir);
  const cpio = execFileSync(BUSYBOX, ['cpio', '-o', '-H', 'newc'], {
    cwd: dir,
    input: list,
    stdio: 'pipe',
    maxBuffer: 256 * 1024 * 1024,
  });
  writeFileSync(out, gzipSync(cpio, { level: 1 }));
}

/**
 * The guest kernel and an initramfs holding busybox, the modules and
 * guest-init.sh, under ~/.cache/oacp-test/cgroup-v2/<package>_<version>;
 * built once, rebuilt when guest-init.sh or the module list changes.
 */
export function guestKernel(initScript: string): GuestKernel {
  need(QEMU, 'qemu-system-x86');
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install -y busybox-static`);
  const { name, version } = kernelPackage();
  const release = name.replace(/^linux-image-/, '');
  const cache = join(homedir(), '.cache', 'oacp-test', 'cgroup-v2', `${name}_${version}`);
  const vmlinuz = join(cache, 'vmlinuz');
  const modules = join(cache, 'modules');
  if (!existsSync(vmlinuz)) {
    const work = mkdtempSync(join(tmpdir(), 'oacp-kernel-'));
    try {
      run('apt-get', ['download', `${name}=${version}`], work);
      const deb = run(BUSYBOX, ['find', work, '-name', '*.deb']).trim();
      run('dpkg-deb', ['-x', deb, join(work, 'x')]);
      mkdirSync(modules, { recursive: true });
      const tree = join(work, 'x', 'lib', 'modules', release, 'kernel');
      for (const module of MODULES)
        copyFileSync(join(tree, `${module}.ko`), join(modules, `${module.split('/').pop()}.ko`));
      // Last, so a half-filled cache is never taken for a whole one.
      copyFileSync(join(work, 'x', 'boot', `vmlinuz-${release}`), `${vmlinuz}.part`);
      renameSync(`${vmlinuz}.part`, vmlinuz);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const script = readFileSync(initScript);
  const key = createHash('sha256').update(script).update(MODULES.join(' ')).digest('hex').slice(0, 16);
  const initrd = join(cache, `initrd-${key}.gz`);
  if (!existsSync(initrd)) {
    const root = mkdtempSync(join(tmpdir(), 'oacp-initrd-'));
    try {
      for (const dir of ['bin', 'dev', 'proc', 'sys', 'mnt/root', 'modules'])
        mkdirSync(join(root, dir), { recursive: true });
      copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
      writeFileSync(join(root, 'init'), script, { mode: 0o755 });
      for (const module of MODULES) {
        const file = `${module.split('/').pop()}.ko`;
        copyFileSync(join(modules, file), join(root, 'modules', file));
      }
      writeFileSync(join(root, 'modules', 'order'), `${MODULES.map((m) => m.split('/').pop()).join(' ')}\n`);
      packInitramfs(root, `${initrd}.part`);
      renameSync(`${initrd}.part`, initrd);
      // Older initramfs files (another guest-init.sh or module list) are never used again.
      for (const file of readdirSync(cache))
        if (/^initrd-[0-9a-f]{16}\.gz$/.test(file) && join(cache, file) !== initrd)
          rmSync(join(cache, file), { force: true });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  return { vmlinuz, initrd, release };
}

export interface GuestRun {
  /** Everything the guest printed on its serial console (kernel and driver). */
  readonly console: string;
  /** Directory the guest wrote (mounted at /tmp/out inside). */
  readonly outDir: string;
}

/** Where a host path is inside the guest: its /tmp is its own, and the host's /tmp is at /tmp/.host. */
function guestPath(hostPath: string): string {
  return hostPath.startsWith('/tmp/') ? `/tmp/.host/${hostPath.slice('/tmp/'.length)}` : hostPath;
}

/**
 * Boots the guest once: `driver` (an absolute host path, run by node as
 * root in the guest) gets a 64 MiB ext4 virtio disk at /tmp/disk and a
 * writable /tmp/out shared with the host. Resolves when the guest powers
 * off (the caller removes the parent of `outDir`); kills QEMU after
 * `timeoutMs`.
 */
export function bootGuest(kernel: GuestKernel, driver: string, timeoutMs: number): Promise<GuestRun> {
  const work = mkdtempSync(join(tmpdir(), 'oacp-vm-'));
  const outDir = join(work, 'out');
  mkdirSync(outDir);
  const disk = join(work, 'disk.img');
  writeFileSync(disk, '');
  run('truncate', ['-s', '64M', disk]);
  run('mkfs.ext4', ['-F', '-q', disk]);
  const args = [
    ...['-accel', 'tcg', '-cpu', 'max', '-m', '1024', '-smp', '2'],
    ...['-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio'],
    ...['-kernel', kernel.vmlinuz, '-initrd', kernel.initrd],
    ...['-append', `console=ttyS0 quiet loglevel=1 panic=-1 oacp_driver=${guestPath(driver)}`],
    ...['-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap'],
    ...['-virtfs', `local,path=${outDir},mount_tag=out,security_model=none`],
    ...['-drive', `file=${disk},format=raw,if=virtio`],
  ];
  return new Promise((resolve, reject) => {
    const qemu = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let console = '';
    qemu.stdout.on('data', (chunk: Buffer) => {
      console += chunk.toString('utf8');
    });
    qemu.stderr.on('data', (chunk: Buffer) => {
      console += chunk.toString('utf8');
    });
    const timer = setTimeout(() => qemu.kill('SIGKILL'), timeoutMs);
    qemu.once('error', (error) => {
      clearTimeout(timer);
      rmSync(work, { recursive: true, force: true });
      reject(error);
    });
    qemu.once('exit', (code, signal) => {
      clearTimeout(timer);
      rmSync(disk, { force: true });
      if (signal !== 'SIGKILL' && code === 0) {
        resolve({ console, outDir });
        return;
      }
      // The console is in the error; nothing else there is worth keeping.
      rmSync(work, { recursive: true, force: true });
      if (signal === 'SIGKILL')
        reject(new Error(`the guest did not power off within ${timeoutMs} ms:\n${console}`));
      else reject(new Error(`qemu exited ${code}:\n${console}`));
    });
  });
}
