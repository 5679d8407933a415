import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { processTree } from '../native/proc-stats.js';

/** The memfd in which the sentry keeps every page its workload holds (runsc names it so). */
const MEMORY_FILE = '/memfd:runsc-memory (deleted)';

function sentryMemoryFile(pid: number): string | undefined {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('runsc-sandbox\0')) return undefined;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const path = `/proc/${pid}/fd/${fd}`;
      if (readlinkSync(path) === MEMORY_FILE) return path;
    }
  } catch {
    // Not ours to read, or gone.
  }
  return undefined;
}

/**
 * Where no memory cgroup is available (a regular user on cgroup v1, opted
 * out by name), the best count of a gVisor workload's memory: the pages
 * committed in the sentry's memory file (anonymous memory, tmpfs, /dev/shm,
 * memfd, SysV segments, mapped or not), read as the file's allocated blocks
 * through /proc. Resident memory misses detached SysV segments and counts
 * pages mapped in both the sentry and its stubs twice. Undefined until the
 * sentry is found, or once it is gone; still a poll, so a fast fill can pass
 * the limit between two reads.
 */
export function memoryFileMeter(root: number): () => number | undefined {
  let file: string | undefined;
  return () => {
    if (file === undefined)
      for (const pid of processTree(root)) {
        file = sentryMemoryFile(pid);
        if (file !== undefined) break;
      }
    if (file === undefined) return undefined;
    try {
      return statSync(file).blocks * 512;
    } catch {
      return undefined;
    }
  };
}
