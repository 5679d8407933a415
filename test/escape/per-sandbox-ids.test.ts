import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier, type NativeSandbox } from '../../src/airlock/native/hardened.js';
import { isWorkloadId, WORKLOAD_ID } from '../../src/airlock/native/identity.js';
import { leaseWorkloadId } from '../../src/airlock/native/workload-ids.js';
import { isRoot } from './confine-harness.js';
import { manifest, PYTHON, run } from './native-harness.js';

/**
 * Issue 9: as root every hardened sandbox used to run as the one host uid
 * 2030000000, so kernel counters kept per host uid were shared: one sandbox
 * holding fs.inotify.max_user_instances (128) inotify instances made
 * inotify_init fail with EMFILE in every other one. Each sandbox now leases
 * a host id of its own (workload-ids.ts); inside it is still WORKLOAD_ID.
 */
// Lowest free id first, as before the spread starts: the tests below reuse a freed id on purpose.
const tier = new HardenedTier({ workloadIds: { start: 0 } });
const available = isRoot && (await tier.availability()).available;

/** The workloads' working directory, granted read-only. */
const cwd = mkdtempSync(join(tmpdir(), 'oacp-ids-'));
const grant = () => manifest({ file_read: [`${cwd}/**`] });
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const started: NativeSandbox[] = [];
const spawned: ChildProcess[] = [];
afterEach(async () => {
  for (const child of spawned.splice(0)) child.kill('SIGKILL');
  for (const sandbox of started.splice(0)) await sandbox.stop();
});

/** Real, effective, saved and filesystem uids on the host of the processes whose argv holds `marker`. */
function hostUids(marker: string): number[][] {
  const found: number[][] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.split('\0').includes(marker) || cmdline.includes('bwrap')) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      found.push((/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? '').split(/\s+/).map(Number));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The host uid of the process with `marker` once it is not root's (setpriv before its exec is). */
async function hostUidOf(marker: string): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const [uids] = hostUids(marker);
    if (uids !== undefined && uids[0] !== 0) return uids[0] ?? -1;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no process with ${marker}`);
}

function marker(): string {
  return `m${randomUUID().replace(/-/g, '')}`;
}

/** A sleep(1) argument (seconds) no other process has. */
function seconds(): string {
  return `${300 + Math.floor(Math.random() * 1000)}.${randomUUID().replace(/\D/g, '').slice(0, 8)}`;
}

/** Starts a workload and waits until its output holds `until` (its stdin stays open); returns that output. */
async function holding(command: string, args: string[], until: string): Promise<string> {
  const sandbox = await tier.start({ command, args, env: {}, cwd, manifest: grant() });
  started.push(sandbox);
  let out = '';
  return new Promise<string>((resolve, reject) => {
    sandbox.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(until)) resolve(out);
    });
    sandbox.exit.then((status) => reject(new Error(`exited early: ${JSON.stringify(status)} ${out}`)));
  });
}

/** POSIX message queues of 80 KiB each: RLIMIT_MSGQUEUE (819200 bytes for root by default) is per user. */
const MQ = `
import ctypes, os
rt = ctypes.CDLL('librt.so.1', use_errno=True)
class Attr(ctypes.Structure):
  _fields_ = [('flags', ctypes.c_long), ('maxmsg', ctypes.c_long), ('msgsize', ctypes.c_long), ('cur', ctypes.c_long), ('pad', ctypes.c_long * 4)]
def queue(name):
  return rt.mq_open(name.encode(), os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(Attr(0, 10, 8192, 0)))
`;

/** Takes every inotify instance and message queue byte the uid may have, then forks until refused, then waits on stdin. */
const HOG = `${MQ}
import sys, time
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while libc.inotify_init() >= 0: n += 1
print('held', n, ctypes.get_errno(), flush=True)
q = 0
while queue('/q%d' % q) >= 0: q += 1
print('queues', q, ctypes.get_errno(), flush=True)
kids = 0
try:
  while True:
    if os.fork() == 0:
      time.sleep(120); os._exit(0)
    kids += 1
except OSError as e:
  print('forked', kids, e.errno, flush=True)
sys.stdin.read()
`;

const VICTIM = `${MQ}
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init()
print('inotify', 'ok' if fd >= 0 else 'errno %d' % ctypes.get_errno(), flush=True)
print('mq_open', 'ok' if queue('/mine') >= 0 else 'errno %d' % ctypes.get_errno(), flush=True)
pid = os.fork()
if pid == 0: os._exit(7)
print('fork', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
print('uid', os.getuid(), os.getgid(), flush=True)
import sys; sys.stdin.read()
`;

describe.skipIf(!available)('hardened as root: a host id per sandbox', () => {
  it('a sandbox holding every inotify instance, message queue byte and process it may have does not starve the next one', async () => {
    const hog = marker();
    const held = await holding(PYTHON, ['-c', HOG, hog], 'forked');
    expect(held).toMatch(/^held \d+ 24\nqueues \d+ 24\n/);
    // While the first one holds them all (both alive): the second one's own.
    const victim = marker();
    const out = await holding(PYTHON, ['-c', VICTIM, victim], 'uid ');
    expect(out).toContain('inotify ok\n');
    expect(out).toContain('mq_open ok\n');
    expect(out).toContain('fork 7\n');
    // Inside, both see the one dedicated id; on the host they differ and are leased ids.
    expect(out).toContain(`uid ${WORKLOAD_ID} ${WORKLOAD_ID}\n`);
    const [hogUid, victimUid] = [await hostUidOf(hog), await hostUidOf(victim)];
    expect(hogUid).not.toBe(victimUid);
    expect(isWorkloadId(hogUid) && hogUid !== WORKLOAD_ID).toBe(true);
    expect(isWorkloadId(victimUid) && victimUid !== WORKLOAD_ID).toBe(true);
  });

  it('an ended sandbox frees its id for the next one', async () => {
    const one = seconds();
    const sandbox = await tier.start({ command: '/bin/sleep', args: [one], env: {}, cwd, manifest: grant() });
    started.push(sandbox);
    const uid = await hostUidOf(one);
    await started.pop()?.stop();
    const two = seconds();
    started.push(await tier.start({ command: '/bin/sleep', args: [two], env: {}, cwd, manifest: grant() }));
    expect(await hostUidOf(two)).toBe(uid);
  });

  it('a sandbox leaves nothing to the next one of its id: daemons are gone, SysV IPC died with its namespace', async () => {
    const [daemon, stubborn, held] = [seconds(), seconds(), seconds()];
    const script = `setsid sh -c 'sleep ${daemon} &'; (trap '' HUP TERM; sleep ${stubborn} </dev/null >/dev/null 2>&1 &); ipcmk -M 4096 && exec sleep ${held}`;
    const first = await tier.start({
      command: '/bin/sh',
      args: ['-c', script],
      env: {},
      cwd,
      manifest: grant(),
    });
    started.push(first);
    const uid = await hostUidOf(held);
    expect(await hostUidOf(daemon)).toBe(uid);
    expect(await hostUidOf(stubborn)).toBe(uid);
    await started.pop()?.stop();
    expect([...hostUids(daemon), ...hostUids(stubborn)]).toEqual([]);
    const id = seconds();
    const next = await tier.start({
      command: '/bin/sh',
      args: ['-c', `ipcs -m | grep -c 4096; exec sleep ${id}`],
      env: {},
      cwd,
      manifest: grant(),
    });
    started.push(next);
    const seen = new Promise<string>((resolve) =>
      next.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    expect(await hostUidOf(id)).toBe(uid);
    // ipcs counts the segments its IPC namespace holds: the first sandbox's one is not among them.
    expect((await seen).trim()).toBe('0');
  });

  // Also one that made a user and a pid namespace of its own (it is root there, still the id to the host).
  it.each([
    ['', []],
    [
      ' in its own user and pid namespaces',
      ['/usr/bin/unshare', '--user', '--map-root-user', '--pid', '--fork'],
    ],
  ])(
    'what still runs as a freed id (a holder killed before its sandbox)%s is killed before the id runs again',
    async (_, within) => {
      const lease = leaseWorkloadId({ start: 0 });
      const left = seconds();
      // A leftover of an earlier sandbox of this id, whose lease is gone.
      const leftover = spawn(
        'setpriv',
        [
          '--reuid',
          String(lease.user.uid),
          '--regid',
          String(lease.user.gid),
          '--clear-groups',
          ...within,
          '/bin/sleep',
          left,
        ],
        { stdio: 'ignore' },
      );
      spawned.push(leftover);
      const gone = new Promise<NodeJS.Signals | null>((resolve) =>
        leftover.on('exit', (_code, signal) => resolve(signal)),
      );
      expect(await hostUidOf(left)).toBe(lease.user.uid);
      lease.release();
      const next = seconds();
      started.push(
        await tier.start({ command: '/bin/sleep', args: [next], env: {}, cwd, manifest: grant() }),
      );
      expect(await hostUidOf(next)).toBe(lease.user.uid);
      const late = new Promise<string>((resolve) => setTimeout(() => resolve('still alive'), 5_000));
      expect(await Promise.race([gone, late])).toBe('SIGKILL');
    },
  );

  it('a killed oacp process frees its id only once its sandbox is gone', async () => {
    const dist = join(import.meta.dirname, '..', '..', 'dist');
    const secs = seconds();
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { HardenedTier } = await import(${JSON.stringify(join(dist, 'airlock/native/hardened.js'))});
         const { ManifestSchema } = await import(${JSON.stringify(join(dist, 'capability/manifest.js'))});
         const manifest = ManifestSchema.parse({ apiVersion: 'oacp.dev/v1', kind: 'CapabilityManifest', name: 'holder',
           capabilities: { file_read: [${JSON.stringify(`${cwd}/**`)}] } });
         await new HardenedTier().start({ command: '/bin/sleep', args: [${JSON.stringify(secs)}], env: {}, cwd: ${JSON.stringify(cwd)}, manifest });
         console.log('started');
         setInterval(() => {}, 60_000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    spawned.push(holder);
    await new Promise((resolve) => holder.stdout?.once('data', resolve));
    const uid = await hostUidOf(secs);
    holder.kill('SIGKILL');
    // Until the id is leased again its sandbox must be gone: never both at once.
    let leased = false;
    for (let attempt = 0; attempt < 200 && !leased; attempt++) {
      const lease = leaseWorkloadId({ start: uid - WORKLOAD_ID - 1 });
      const alive = hostUids(secs).length > 0;
      lease.release();
      if (lease.user.uid === uid) {
        expect(alive).toBe(false);
        leased = true;
      } else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(leased).toBe(true);
  });
});

/**
 * The files a workload leaves in a writable grant every account may write (1777) belonged on the
 * host to its id: the next hardened sandbox leasing that id (slot 0 again here), or any later gVisor
 * sandbox (all are 2030000000 to the host), owned them. Such a grant is refused as root.
 */
const gvisor = new GvisorTier();
const leftBehind = [
  { name: 'hardened', tier, available },
  { name: 'gvisor', tier: gvisor, available: isRoot && (await gvisor.availability()).available },
];
describe.each(leftBehind)('as root in $name: a world-writable grant', ({ tier: attacked, available: up }) => {
  it.skipIf(!up)(
    'a file one sandbox leaves there is never read by a later sandbox of its id: such a grant is refused',
    async () => {
      const shared = mkdtempSync(join(tmpdir(), 'oacp-ids-shared-'));
      chmodSync(shared, 0o1777);
      const secret = join(shared, 'left');
      const rw = manifest({ file_read: [`${cwd}/**`], file_write: [`${shared}/**`] });
      const outcomes: string[] = [];
      const attempt = async (script: string): Promise<void> => {
        try {
          const result = await run(attacked, { command: '/bin/sh', args: ['-c', script], cwd, manifest: rw });
          outcomes.push(`ran: ${result.out}${result.err}`);
        } catch (error) {
          outcomes.push(`refused: ${(error as Error).message}`);
        }
      };
      try {
        // The first sandbox leaves a private file; the next one of the same host uid reads and replaces it.
        await attempt(`umask 077; echo FIRST-SANDBOX-SECRET > ${secret}`);
        await attempt(`cat ${secret}; echo REPLACED > ${secret}`);
        expect(outcomes.join('\n')).not.toContain('FIRST-SANDBOX-SECRET');
        expect(outcomes[0]).toContain(
          `refused: every account may write ${shared}, so the files this sandbox leaves there`,
        );
        expect(outcomes[0]).toContain('grant a directory of its own instead (mkdir -m 700 DIR');
      } finally {
        rmSync(shared, { recursive: true, force: true });
      }
    },
  );
});
