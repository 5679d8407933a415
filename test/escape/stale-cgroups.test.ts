import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectCgroupHost, sweepStaleCgroups } from '../../src/airlock/cgroups/index.js';

/**
 * A SIGKILLed `oacp run` cannot remove its sandbox cgroups; the next OACP
 * process that detects the host removes them, and nothing else: not a
 * cgroup that still holds a task (never killed), not one whose creator is
 * alive. As root on the cgroup v1 host (real cgroups, real processes).
 */
const BIN = resolve('dist/cli/main.js');
const host = detectCgroupHost();
const pids = host.pids.available ? host.pids.parents[0] : undefined;
const parents = [
  ...new Set(Object.values(host).flatMap((support) => (support.available ? support.parents : []))),
];
const pidNs = /\d+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0] ?? '0';

const until = async (what: string, check: () => boolean): Promise<void> => {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (check()) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};
const left = (creator: number): string[] =>
  parents.flatMap((parent) =>
    readdirSync(parent)
      .filter((name) => name.startsWith('oacp-hardened-') && name.endsWith(`.${creator}.${pidNs}`))
      .map((name) => join(parent, name)),
  );
const tasks = (dir: string): string => readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim();
const exited = (child: ChildProcess): Promise<void> =>
  new Promise((done) =>
    child.exitCode !== null || child.signalCode !== null ? done() : child.on('exit', () => done()),
  );

describe.skipIf(process.getuid?.() !== 0 || pids === undefined || !existsSync(BIN))(
  'stale sandbox cgroups of a killed oacp',
  () => {
    it('are removed by the next start; an occupied one and a live creator’s are left, nothing is killed', async () => {
      // The attack on the host's hygiene: oacp killed mid-run, its cgroups left in every hierarchy.
      const killed = spawn(
        process.execPath,
        [
          BIN,
          'run',
          '--no-receipt',
          '--tier',
          'hardened',
          '--quota-memory',
          '64mb',
          '--',
          '/bin/sleep',
          '60',
        ],
        { stdio: 'ignore', env: { PATH: process.env.PATH } },
      );
      const creator = killed.pid ?? 0;
      await until(
        'the sandbox cgroup',
        () => left(creator).length > 0 && tasks(left(creator)[0] ?? '') !== '',
      );
      killed.kill('SIGKILL');
      await exited(killed);
      const stale = left(creator);
      // Its workload goes with it (the launcher's guard); the directories stay, empty.
      await until('the workload to die', () => stale.every((dir) => tasks(dir) === ''));
      expect(stale.every((dir) => existsSync(dir))).toBe(true);

      // Same dead creator, but a task still inside: rmdir fails by itself and the task lives on.
      const occupied = join(
        pids ?? '',
        `oacp-hardened-00000000-0000-4000-8000-000000000001.${creator}.${pidNs}`,
      );
      // A live creator's (this test's), empty: it may be about to be joined.
      const live = join(
        pids ?? '',
        `oacp-hardened-00000000-0000-4000-8000-000000000002.${process.pid}.${pidNs}`,
      );
      mkdirSync(occupied);
      mkdirSync(live);
      const sleeper = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
      try {
        writeFileSync(join(occupied, 'cgroup.procs'), String(sleeper.pid));
        const next = spawnSync(
          process.execPath,
          [BIN, 'run', '--no-receipt', '--tier', 'hardened', '--quota-memory', '64mb', '--', '/bin/true'],
          { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 60_000 },
        );
        expect(next.status, next.stderr).toBe(0);
        expect(stale.filter((dir) => existsSync(dir))).toEqual([]);
        expect(existsSync(occupied)).toBe(true);
        expect(tasks(occupied)).toBe(String(sleeper.pid));
        expect(sleeper.exitCode).toBeNull();
        expect(existsSync(live)).toBe(true);
      } finally {
        sleeper.kill('SIGKILL');
        await exited(sleeper);
        await until('the occupied cgroup to empty', () => tasks(occupied) === '');
        rmdirSync(occupied);
        rmdirSync(live);
      }
    }, 60_000);

    it('removes a creator-less or foreign-namespace cgroup only once it is over an hour old', async () => {
      const name = (n: number, tag = ''): string =>
        join(
          pids ?? '',
          `oacp-gvisor-00000000-0000-4000-8000-${(process.pid * 10 + n).toString(16).padStart(12, '0')}${tag}`,
        );
      // Earlier versions' names (no creator) and a creator in another pid namespace (999 is not ours).
      const oldUnowned = name(1);
      const youngUnowned = name(2);
      const oldForeign = name(3, `.1.999`);
      const youngForeign = name(4, `.1.999`);
      const all = [oldUnowned, youngUnowned, oldForeign, youngForeign];
      try {
        for (const dir of all) mkdirSync(dir);
        const twoHoursAgo = Date.now() / 1000 - 7200;
        for (const dir of [oldUnowned, oldForeign]) utimesSync(dir, twoHoursAgo, twoHoursAgo);
        // At most 32 per sweep, and this shared host may hold a backlog: sweep until ours are done.
        for (let round = 0; round < 20 && (existsSync(oldUnowned) || existsSync(oldForeign)); round++) {
          if ((await sweepStaleCgroups(host)) === 0) break;
        }
        expect(existsSync(oldUnowned)).toBe(false);
        expect(existsSync(oldForeign)).toBe(false);
        expect(existsSync(youngUnowned)).toBe(true);
        expect(existsSync(youngForeign)).toBe(true);
      } finally {
        for (const dir of all) if (existsSync(dir)) rmdirSync(dir);
      }
    });
  },
);
