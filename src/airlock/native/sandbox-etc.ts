import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedEtcView, type EtcBind } from './etc-view.js';
import type { SystemEntry } from './system-root.js';

/**
 * Synthetic /etc files for a sandbox, so programs that look up their user or
 * `localhost` work without the host's account list being visible. Written to
 * the sandbox's private host directory and bound read-only.
 */
export function writeSandboxEtc(dir: string, uid: number, gid: number): { source: string; target: string }[] {
  return Object.entries(sandboxEtcFiles(uid, gid)).map(([name, content]) => {
    const source = join(dir, name);
    writeFileSync(source, content, { mode: 0o444 });
    return { source, target: `/etc/${name}` };
  });
}

/**
 * The same files with the system's /etc files, as one read-only view in the
 * launcher cache shared by every sandbox of this identity (see cachedEtcView).
 * A launcher cache that cannot be written (a read-only root or image whose
 * launcher was built in advance, as the cgroup v2 test VM's is) gets a view of
 * this start's own in `scratch()`, a directory the caller removes with the
 * sandbox: the same files, at the cost of copying them on every start.
 */
export function sandboxEtcView(
  cacheDir: string,
  system: readonly SystemEntry[],
  uid: number,
  gid: number,
  scratch: () => string,
): EtcBind[] {
  const synthetic = sandboxEtcFiles(uid, gid);
  try {
    return cachedEtcView(cacheDir, system, synthetic);
  } catch (error) {
    if (!cannotWrite(error)) throw error;
    return cachedEtcView(scratch(), system, synthetic);
  }
}

function cannotWrite(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EROFS' || code === 'EACCES' || code === 'EPERM';
}

function sandboxEtcFiles(uid: number, gid: number): Record<string, string> {
  const users = [
    'root:x:0:0:root:/tmp:/bin/sh',
    ...(uid === 0 || uid === 65534 ? [] : [`sandbox:x:${uid}:${gid}:sandbox:/tmp:/bin/sh`]),
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  ];
  const groups = [
    'root:x:0:',
    ...(gid === 0 || gid === 65534 ? [] : [`sandbox:x:${gid}:`]),
    'nogroup:x:65534:',
  ];
  return {
    passwd: `${users.join('\n')}\n`,
    group: `${groups.join('\n')}\n`,
    hosts: '127.0.0.1 localhost\n::1 localhost\n',
  };
}
