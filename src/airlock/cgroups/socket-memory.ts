import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * cgroup v1's TCP buffer limit. v1 charges TCP buffers (and, once that is on,
 * UDP's) to a cgroup only when this file is set; a kernel without it leaves a
 * sandbox's socket buffers outside its memory quota. v2 charges them to
 * memory.current always, so memory.max bounds them.
 */
export const V1_TCP_LIMIT_FILE = 'memory.kmem.tcp.limit_in_bytes';

/** Whether a v1 memory cgroup directory has the TCP limit, so its memory quota can bound socket buffers. */
export function v1ChargesSocketBuffers(dir: string, exists: (path: string) => boolean = existsSync): boolean {
  return exists(join(dir, V1_TCP_LIMIT_FILE));
}
