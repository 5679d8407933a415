import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier, type NativeSandbox } from '../../src/airlock/native/hardened.js';
import { isRoot } from './confine-harness.js';
import { type AttackedTier, manifest, PYTHON } from './native-harness.js';

/**
 * Native AIO contexts (io_setup) are reserved from one pool for the whole
 * host, `fs.aio-max-nr` (65536 events by default): it is neither namespaced
 * nor charged to a cgroup. A hardened sandbox reserved all of it and, while
 * it held it, every io_setup on the host failed with EAGAIN (root's too), so
 * databases and VMs using libaio could not start. The hardened filter now
 * answers the AIO calls with ENOSYS, as a kernel without AIO would; gVisor
 * keeps AIO inside its own kernel.
 */
const TIERS = [new HardenedTier(), new GvisorTier()] as const;
const cwd = mkdtempSync(join(tmpdir(), 'oacp-aio-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
const started: NativeSandbox[] = [];
afterEach(async () => {
  for (const sandbox of started.splice(0)) await sandbox.stop();
});

/** The whole pool this host has. */
const POOL = Number(readFileSync('/proc/sys/fs/aio-max-nr', 'utf8').trim());

/** Reserves up to argv[1] events of AIO contexts, 4096 at a time, says how many and why it stopped, holds them. */
const HOG = `
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
want, held, contexts, error = int(sys.argv[1]), 0, [], 0
while held < want:
    ctx = ctypes.c_ulong(0)
    if libc.syscall(206, ctypes.c_uint(4096), ctypes.byref(ctx)) != 0:
        error = ctypes.get_errno()
        break
    contexts.append(ctx)
    held += 4096
print('aio', held, error, flush=True)
sys.stdin.read()
`;

/** io_setup(1) in a host process: "ok", or the errno that refused it. */
function hostCanSetUpAio(): string {
  const script = `
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
ctx = ctypes.c_ulong(0)
print('ok' if libc.syscall(206, ctypes.c_uint(1), ctypes.byref(ctx)) == 0 else 'errno %d' % ctypes.get_errno())
`;
  return execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' }).trim();
}

async function holding(tier: AttackedTier, until: RegExp): Promise<string> {
  // As a regular user on a cgroup v1 host the controllers are not delegated: what is tested here is no quota.
  const quotas = isRoot ? {} : { allow_unenforced: ['memory', 'pids', 'cpu'] };
  const sandbox = await tier.start({
    command: PYTHON,
    args: ['-c', HOG, String(POOL)],
    env: {},
    cwd,
    manifest: manifest({ file_read: [`${cwd}/**`] }, {}, quotas),
  });
  started.push(sandbox);
  let out = '';
  return new Promise<string>((resolve, reject) => {
    sandbox.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (until.test(out)) resolve(out);
    });
    sandbox.exit.then((status) => reject(new Error(`exited early: ${JSON.stringify(status)} ${out}`)));
  });
}

for (const tier of TIERS) {
  const available = existsSync(PYTHON) && (await tier.availability()).available;
  describe.skipIf(!available)(`${tier.name}: the host's AIO pool`, () => {
    it("stays the host's while a sandbox tries to reserve all of it", async () => {
      expect(hostCanSetUpAio()).toBe('ok');
      const out = await holding(tier, /^aio \d+ \d+\n/m);
      // Held now (the workload waits on its stdin): the host still sets up a context.
      expect(hostCanSetUpAio()).toBe('ok');
      // Hardened: ENOSYS before any event is reserved. gVisor: reserved in its own kernel, not the host's.
      if (tier.name === 'hardened') expect(out).toBe('aio 0 38\n');
    });
  });
}
