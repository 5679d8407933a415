import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildHelper } from '../native/launcher/build.js';

/** Where the library appears inside a gVisor sandbox (/etc/ld.so.preload names it). */
export const SANDBOX_COMPAT_LIBRARY = '/run/oacp/gvisor-compat.so';

/**
 * The runsc this host has (Debian 12: release 20221219) refuses
 * AT_NO_AUTOMOUNT in statx and fstatat with EINVAL, and coreutils (`ls`,
 * `stat`) always passes it, so they failed on every path. Inside the sentry
 * nothing is an automount point, so the flag changes nothing: this library,
 * preloaded into dynamically linked programs, clears it before the call.
 * It relaxes no check (the sentry still resolves and checks the path).
 */
export const COMPAT_LIBRARY_SOURCE = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buffer) {
  return (int)syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buffer);
}

int fstatat(int dirfd, const char *path, struct stat *buffer, int flags) {
  return (int)syscall(SYS_newfstatat, dirfd, path, buffer, flags & ~AT_NO_AUTOMOUNT);
}

int fstatat64(int dirfd, const char *path, struct stat64 *buffer, int flags) {
  return (int)syscall(SYS_newfstatat, dirfd, path, buffer, flags & ~AT_NO_AUTOMOUNT);
}
`;

/** What `oacp doctor` says about it: the one compatibility gap left (docs/hardened-tier.md, "gVisor specifics"). */
export const COMPAT_NOTE =
  'statx/fstatat AT_NO_AUTOMOUNT cleared for dynamically linked programs (/etc/ld.so.preload); a static program that passes it gets EINVAL from a runsc that refuses the flag (20221219 does)';

/**
 * The compat library's host path, built once per host like the launcher; where no cache is safe, into
 * `scratch` (the held launcher's private directory, removed with it).
 */
export function buildCompatLibrary(scratch: string): string {
  return buildHelper(
    {
      name: 'oacp-gvisor-compat.so',
      source: COMPAT_LIBRARY_SOURCE,
      flags: ['-shared', '-fPIC'],
    },
    undefined,
    process.env,
    scratch,
  );
}

/**
 * The sandbox's `/etc/ld.so.preload`, naming the library: the dynamic loader
 * reads it for every dynamically linked program, children included, so the
 * workload's environment carries no `LD_PRELOAD` (and unsetting it changes
 * nothing). Written to the sandbox's private directory and bound read-only.
 */
export function writePreloadList(dir: string): { source: string; target: string } {
  const source = join(dir, 'ld.so.preload');
  writeFileSync(source, `${SANDBOX_COMPAT_LIBRARY}\n`, { mode: 0o444 });
  return { source, target: '/etc/ld.so.preload' };
}
