import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, isRoot, REGULAR_USER } from './confine-harness.js';

/**
 * Issue 9 (round 4, light tier): a light workload runs as OACP's uid, so with
 * a guard of the same uid it could kill the guard and leave its setsid()
 * children running after OACP's death. The guard is now outside a new PID
 * namespace whose init the kernel protects from every signal sent inside it.
 * The attack, through the real CLI as root and as uid 1000: the workload
 * starts a setsid() escapee, then kill -9 on every process it can see (its
 * parent, pid 1, kill -1, every number under the host's /proc); then a real
 * kill -9 of oacp. Every process of the workload must be gone.
 */
const home = mkdtempSync(join(tmpdir(), 'oacp-light-guard-'));
chmodSync(home, 0o755);
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** The namespace this test runs in: the workload refuses to attack from it (kill -1 there would hit the host). */
const hostPidNamespace = readlinkSync('/proc/self/ns/pid');

function withMarker(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch {
      // Gone between listing and reading.
    }
  }
  return pids;
}

async function until(check: () => boolean, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

const users = [
  { name: 'as the invoking user', asUser: undefined },
  ...(isRoot ? [{ name: 'as uid 1000', asUser: REGULAR_USER }] : []),
];

describe.skipIf(!existsSync(CLI))('light tier: the workload cannot kill its guard', () => {
  for (const { name, asUser } of users) {
    it(`${name}: kill -9 of everything it sees, then kill -9 of oacp, leaves nothing running`, {
      timeout: 60_000,
    }, async () => {
      const marker = `${5000 + Math.floor(Math.random() * 1000)}.${randomUUID().replace(/\D/g, '').slice(0, 8)}`;
      const scratch = join(home, marker);
      mkdirSync(scratch, { mode: 0o755 });
      // Sticky as /tmp is: uid 1000 can make its launcher cache and temp files here, and no other user can
      // replace them (a world-writable, non-sticky TMPDIR is refused, src/airlock/native/launcher/safe-directory.ts).
      if (asUser !== undefined) chmodSync(scratch, 0o1777);
      const escapee = `/usr/bin/setsid /bin/sh -c "/bin/sleep ${marker} & exit 0"`;
      // Only from another PID namespace: in this one, kill -9 -1 would be an attack on the test host itself.
      const attack = [
        `[ "$(readlink /proc/self/ns/pid)" != "${hostPidNamespace}" ] || { echo same-namespace; exit 9; }`,
        'kill -9 $PPID 1 2>/dev/null; kill -9 -1 2>/dev/null',
        'for p in /proc/[0-9]*; do n=$(basename "$p"); [ "$n" = $$ ] || kill -9 "$n" 2>/dev/null; done',
        // Then what should die with oacp: a setsid() escapee and a child.
        `${escapee}; /bin/sleep ${marker} &`,
        'echo attacked; wait',
      ].join('\n');
      const prefix =
        asUser === undefined
          ? []
          : ['/usr/bin/setpriv', `--reuid=${asUser.uid}`, `--regid=${asUser.gid}`, '--clear-groups'];
      const [file = process.execPath, ...args] = [
        ...prefix,
        process.execPath,
        CLI,
        'run',
        '--no-receipt',
        '--tier',
        'light',
        '--',
        '/bin/sh',
        '-c',
        attack,
      ];
      const oacp = spawn(file, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { PATH: '/usr/bin:/bin', HOME: scratch, OACP_HOME: join(scratch, 'home'), TMPDIR: scratch },
      });
      let out = '';
      oacp.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      oacp.stderr.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      try {
        const started = await until(() => out.includes('attacked') && withMarker(marker).length >= 2, 600);
        expect([started, out]).toEqual([true, expect.stringContaining('attacked')]);
        // The attack reached nothing: oacp and the escapee are still there.
        expect(oacp.exitCode).toBeNull();
        expect(withMarker(marker).length).toBeGreaterThanOrEqual(2);
        oacp.kill('SIGKILL');
        const gone = await until(() => withMarker(marker).length === 0);
        expect([gone, withMarker(marker)]).toEqual([true, []]);
      } finally {
        for (const pid of withMarker(marker)) process.kill(pid, 'SIGKILL');
        oacp.kill('SIGKILL');
      }
    });
  }
});
