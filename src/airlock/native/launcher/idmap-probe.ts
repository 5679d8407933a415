import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKLOAD_ID, WORKLOAD_ID_COUNT } from '../identity.js';
import { outerLaunchArgs } from './args.js';

export interface IdmapProbe {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Whether the launcher can idmap, for the dedicated workload id, `grant` (an
 * opened descriptor: its own filesystem is what counts) or else a root-owned
 * directory it makes under `workRoot`: `stat`, run by the launcher inside its
 * private mount namespace, must see the workload id as owner. Root only; a
 * failure carries the launcher's line.
 */
export function probeIdmap(
  program: string,
  workRoot: string,
  grant?: { readonly fd: number; readonly directory: boolean; readonly owner: { uid: number; gid: number } },
): IdmapProbe {
  if (process.getuid?.() !== 0)
    return { ok: false, detail: 'not root: sandboxes run as the invoking user, no idmap is needed' };
  const dir = mkdtempSync(join(workRoot, 'oacp-idmap-probe-'));
  let fd: number | undefined;
  try {
    const stage = join(dir, 'stage');
    if (grant === undefined) {
      mkdirSync(join(dir, 'grant'), { mode: 0o700 });
      fd = openSync(join(dir, 'grant'), 'r');
    }
    if (grant === undefined || grant.directory) mkdirSync(stage);
    else writeFileSync(stage, '');
    const owner = grant?.owner ?? { uid: 0, gid: 0 };
    const result = spawnSync(
      program,
      [
        ...outerLaunchArgs(program, {
          as: { uid: WORKLOAD_ID, gid: WORKLOAD_ID },
          idmap: [{ fd: 3, uid: owner.uid, gid: owner.gid, path: stage }],
        }).slice(1),
        '/usr/bin/stat',
        '-c',
        '%u:%g',
        stage,
      ],
      { stdio: ['ignore', 'pipe', 'pipe', grant?.fd ?? fd ?? 'ignore'], timeout: 10_000, encoding: 'utf8' },
    );
    const seen = result.stdout?.trim();
    if (result.status === 0 && seen === `${WORKLOAD_ID}:${WORKLOAD_ID}`)
      return {
        ok: true,
        detail: `idmapped mounts (workload uid ${WORKLOAD_ID} inside; on the host each hardened sandbox its own uid, ${WORKLOAD_ID + 1}..${WORKLOAD_ID + WORKLOAD_ID_COUNT}; never host root)`,
      };
    const why = result.stderr?.trim().split('\n')[0] || `launcher exited ${result.status}, saw ${seen}`;
    return { ok: false, detail: `no idmapped mounts on ${workRoot}: ${why}` };
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}
