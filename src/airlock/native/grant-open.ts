import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';
import { OacpError } from '../../core/errors.js';
import type { NativeErrorCode } from './errors.js';

/** Linux O_PATH: a handle to a name, for binding, that reads nothing. Node does not export it. */
const O_PATH = 0o10000000;

/** An opened grant: the descriptor that will be bound and what it is. */
export interface OpenedPath {
  readonly fd: number;
  readonly directory: boolean;
}

function refuse(path: string, why: string): never {
  throw new OacpError<NativeErrorCode>('AIRLOCK_BAD_SPEC', `cannot grant ${path}: ${why}`);
}

/**
 * Opens an absolute path one component at a time, each relative to the
 * descriptor of its parent (through /proc/self/fd, as Node has no openat),
 * never following a symlink: the equivalent of openat2(RESOLVE_NO_SYMLINKS).
 * The descriptor is what the tier binds, so what was checked is what the
 * sandbox gets even if the path is swapped afterwards. Returns undefined
 * for a path that does not exist; a symlink anywhere is a refusal.
 * `refuseIf` sees what each component opened is (from its descriptor, so
 * not racing a rename) and names why the grant must be refused, if it must.
 */
export function openNoFollow(
  path: string,
  refuseIf?: (components: readonly Stats[]) => string | undefined,
): OpenedPath | undefined {
  if (!path.startsWith('/')) refuse(path, 'not an absolute path');
  const names = path.split('/').filter((name) => name !== '');
  if (names.some((name) => name === '.' || name === '..')) refuse(path, 'not a normalized path');
  let fd = openSync('/', O_PATH | constants.O_DIRECTORY);
  const components: Stats[] = [];
  try {
    for (const [index, name] of names.entries()) {
      let next: number;
      try {
        next = openSync(`/proc/self/fd/${fd}/${name}`, O_PATH | constants.O_NOFOLLOW);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        refuse(path, (error as Error).message);
      }
      closeSync(fd);
      fd = next;
      const stat = fstatSync(fd);
      components.push(stat);
      if (stat.isSymbolicLink()) {
        refuse(path, `/${names.slice(0, index + 1).join('/')} is a symbolic link (grant its target instead)`);
      }
      if (index < names.length - 1 && !stat.isDirectory()) {
        refuse(path, `/${names.slice(0, index + 1).join('/')} is not a directory`);
      }
    }
    const why = refuseIf?.(components.length > 0 ? components : [fstatSync(fd)]);
    if (why !== undefined) refuse(path, why);
    const opened = { fd, directory: fstatSync(fd).isDirectory() };
    fd = -1;
    return opened;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Closes descriptors from openNoFollow; never throws. */
export function closeAll(opened: readonly OpenedPath[]): void {
  for (const each of opened) {
    try {
      closeSync(each.fd);
    } catch {
      // Already closed.
    }
  }
}
