import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { sandboxUserCounts } from '../../src/airlock/native/user-counts.js';
import { withLogState } from '../log-state.js';
import { ATTACKERS, CLI, isRoot, openDir, type REGULAR_USER, who } from './confine-harness.js';
import { PYTHON } from './native-harness.js';

/**
 * The kernel counts some objects per host uid across every user namespace:
 * queued signals (RLIMIT_SIGPENDING, one reserved by each POSIX timer),
 * POSIX message queue bytes (RLIMIT_MSGQUEUE) and inotify instances
 * (fs.inotify.max_user_instances). A regular user's sandbox runs as that
 * user, and one that held all of them (96,365 timers, 128 inotify instances,
 * 9 queues) left the user's own programs none while it ran: timer_create()
 * EAGAIN, inotify_init() and mq_open() EMFILE. A sandbox now gets a share:
 * rlimits for the first two, a cap in the launcher's user namespace for
 * inotify. As root each sandbox has a leased uid of its own (its counts are
 * its own); the attack is repeated there so that stays true.
 */
const available = existsSync(PYTHON) && (await new HardenedTier().availability()).available;

/** Takes all it can of each count, says how many, then holds them until `release` exists. */
const HOG = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
rt = ctypes.CDLL('librt.so.1', use_errno=True)
class Attr(ctypes.Structure):
    _fields_ = [('flags', ctypes.c_long), ('maxmsg', ctypes.c_long), ('msgsize', ctypes.c_long), ('cur', ctypes.c_long), ('pad', ctypes.c_long * 4)]
timer, timers = ctypes.c_void_p(), 0
while timers < 200000 and libc.timer_create(1, None, ctypes.byref(timer)) == 0: timers += 1
watchers = 0
while watchers < 1000 and libc.inotify_init() >= 0: watchers += 1
queues, attr = 0, Attr(0, 10, 8192, 0)
while queues < 100 and rt.mq_open(b'/hog%d' % queues, os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(attr)) >= 0: queues += 1
print('held', timers, watchers, queues, flush=True)
while not os.path.exists(sys.argv[1]): time.sleep(0.05)
`;

/** One of each in a host process of the same uid: "ok" or the errno that refused it, per count. */
const PROBE = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
rt = ctypes.CDLL('librt.so.1', use_errno=True)
class Attr(ctypes.Structure):
    _fields_ = [('flags', ctypes.c_long), ('maxmsg', ctypes.c_long), ('msgsize', ctypes.c_long), ('cur', ctypes.c_long), ('pad', ctypes.c_long * 4)]
said = lambda ok: 'ok' if ok else 'errno %d' % ctypes.get_errno()
timer = ctypes.c_void_p()
name = b'/oacp-probe-%d' % os.getpid()
queue = rt.mq_open(name, os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(Attr(0, 10, 8192, 0)))
if queue >= 0: rt.mq_unlink(name)
print(said(libc.timer_create(1, None, ctypes.byref(timer)) == 0), said(libc.inotify_init() >= 0), said(queue >= 0))
`;

function hostProbe(user: typeof REGULAR_USER | undefined): string {
  const as = user === undefined ? [] : [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
  const command =
    user === undefined ? [PYTHON, '-c', PROBE] : ['/usr/bin/setpriv', ...as, PYTHON, '-c', PROBE];
  const [file = PYTHON, ...args] = command;
  return execFileSync(file, args, { encoding: 'utf8' }).trim();
}

/** Starts the hog through the CLI and resolves with its "held" line once it holds everything. */
function startHog(
  user: typeof REGULAR_USER | undefined,
  dir: string,
): { held: Promise<string>; exit: Promise<number | null> } {
  const grant = join(dir, 'grant');
  mkdirSync(grant, { mode: 0o755 });
  const release = join(grant, 'release');
  const run = [
    CLI,
    'run',
    '--no-receipt',
    // A regular user on a cgroup v1 host has no controllers: what is tested here is no cgroup quota.
    ...(user === undefined && isRoot ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io']),
    '--allow-files',
    grant,
    '--',
    PYTHON,
    '-c',
    HOG,
    release,
  ];
  const as = user === undefined ? [] : [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups'];
  const [file = process.execPath, ...args] =
    user === undefined ? [process.execPath, ...run] : ['/usr/bin/setpriv', ...as, process.execPath, ...run];
  const child = spawn(file, args, {
    env: (user === undefined ? withLogState : (env: NodeJS.ProcessEnv) => env)({
      PATH: '/usr/bin:/bin',
      HOME: dir,
      OACP_HOME: join(dir, 'home'),
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('close', resolve));
  const held = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^held .*$/m.exec(out);
      if (line !== null) resolve(line[0]);
    });
    exit.then((code) => reject(new Error(`exited ${code} before holding: ${out} ${err}`)));
  });
  return { held, exit };
}

describe.skipIf(!available)('hardened: counts the kernel keeps per host uid', () => {
  for (const user of ATTACKERS) {
    it(`leave the invoker's own programs theirs while a sandbox takes all it can (${who(user)})`, async () => {
      const dir = openDir('oacp-user-counts-');
      const hog = startHog(user, dir);
      try {
        const held = await hog.held;
        // Held now (the workload waits for the release file): the invoker's uid still gets one of each.
        expect(hostProbe(user), held).toBe('ok ok ok');
        const [, timers, watchers, queues] = held.split(' ').map(Number);
        // The sandbox's share: 1,024 queued signals, an eighth of the inotify instances, two default queues.
        expect(timers).toBe(1024);
        expect(queues).toBe(2);
        // Root's sandbox runs as a leased uid whose inotify count is its own: no share to keep.
        if (user !== undefined || !isRoot) expect(watchers).toBe(sandboxUserCounts().inotifyInstances);
      } finally {
        writeFileSync(join(dir, 'grant', 'release'), '');
        await hog.exit;
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
