import { readlinkSync } from 'node:fs';
import { access, readdir, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type CgroupHost, detectCgroupHost } from './host.js';

/**
 * Sandbox cgroups carry their creator in their name:
 * `oacp-<sandbox id>.<pid>.<pid namespace inode>`, so a cgroup left behind
 * by a killed OACP process can be told from one a live process is using.
 */
export function sandboxCgroupName(id: string): string {
  return `oacp-${id}.${process.pid}.${pidNamespace() ?? 0}`;
}

function pidNamespace(): string | undefined {
  try {
    return /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

const OWNED = /^oacp-.+\.(\d+)\.(\d+)$/;
/** Names of earlier rounds, without their creator: judged by age alone. */
const UNOWNED = /^oacp-(?:hardened|gvisor)-[0-9a-f-]{36}$/;
/** A cgroup whose creator this process cannot see is left until it is this old. */
export const UNOWNED_STALE_MS = 60 * 60 * 1000;
/** At most this many removals per sweep: start-up never pays for a large backlog. */
export const SWEEP_LIMIT = 32;

/**
 * How sure it is that an entry's creator is gone: 'dead' (its pid is not
 * running in our pid namespace), 'old' (a creator this process cannot see,
 * or a name without one, and created over UNOWNED_STALE_MS ago), or
 * undefined when it may be in use.
 */
async function staleness(
  name: string,
  path: string,
  self: string | undefined,
  now: number,
  wantOld: boolean,
): Promise<'dead' | 'old' | undefined> {
  const owned = OWNED.exec(name);
  if (owned !== null && self !== undefined && owned[2] === self) {
    // Our pid namespace: the creator is alive (or its pid reused) exactly when /proc shows it.
    if (owned[1] === String(process.pid)) return undefined;
    return access(`/proc/${owned[1]}`).then(
      () => undefined,
      () => 'dead',
    );
  }
  if (!wantOld || (owned === null && !UNOWNED.test(name))) return undefined;
  // Another pid namespace's, or an earlier round's: a live creator's cgroup is empty only for the
  // milliseconds between creating and joining it, or between exit and removal.
  try {
    return now - (await stat(path)).mtimeMs > UNOWNED_STALE_MS ? 'old' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes empty sandbox cgroups whose creator is gone (killed before it
 * could remove them), beside the ones this process will create. Never kills
 * anything: `rmdir` of a cgroup that still holds a task fails by itself
 * (EBUSY) and the cgroup is left. Off the start's path and the event loop
 * (it begins after the current turn; listings, `stat`s and rmdirs run in
 * the thread pool, and a v1 rmdir waits for the kernel), at most
 * SWEEP_LIMIT removals, and best effort: a failure here never fails a
 * start. Resolves when every removal has been tried.
 */
export async function sweepStaleCgroups(host: CgroupHost, now = Date.now()): Promise<number> {
  // Not on the start's path: everything below waits for the thread pool, never the event loop.
  await new Promise((next) => setImmediate(next));
  const self = pidNamespace();
  const parents = new Set<string>();
  for (const support of Object.values(host)) {
    if (support.available) for (const parent of support.parents) parents.add(parent);
  }
  const dead: string[] = [];
  const old: string[] = [];
  for (const parent of parents) {
    let names: string[];
    try {
      names = await readdir(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.startsWith('oacp-')) continue;
      const path = join(parent, name);
      const how = await staleness(name, path, self, now, old.length < SWEEP_LIMIT);
      if (how === 'dead') dead.push(path);
      else if (how === 'old') old.push(path);
    }
  }
  // The surest first: a backlog of old ones never keeps a dead creator's from going.
  const doomed = [...dead, ...old].slice(0, SWEEP_LIMIT);
  const removed = await Promise.all(
    doomed.map((path) =>
      rmdir(path).then(
        () => 1,
        () => 0,
      ),
    ),
  );
  return removed.reduce((sum: number, one: number) => sum + one, 0);
}

/** The host's cgroup support, and the sweep of what killed OACP processes left beside it. */
export interface DetectedCgroups {
  readonly host: CgroupHost;
  /** Removals made; never rejects. A tier awaits it after a workload, so a start never waits for it. */
  readonly swept: Promise<number>;
}

/** Detects the host's cgroup support once for a tier and starts the sweep (stale.ts). */
export function detectCgroupHostAndSweep(): DetectedCgroups {
  const host = detectCgroupHost();
  return { host, swept: sweepStaleCgroups(host).catch(() => 0) };
}
