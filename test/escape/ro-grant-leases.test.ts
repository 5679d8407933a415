import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier, type NativeSandbox } from '../../src/airlock/native/hardened.js';
import { isRoot } from './confine-harness.js';
import { manifest, PYTHON } from './native-harness.js';

/**
 * A lease is not a lock only cooperating processes take: while a workload
 * holds a read lease on a file, a host process opening that file for
 * writing waits until the holder lets go, up to fs.lease-break-time (45 s),
 * and a holder that ignores SIGIO takes the lease again after each break. A
 * read lease needs only a file the caller owns: as root, every file of an
 * idmapped grant, read-only ones included (and as a regular user, that
 * user's own). In the hardened tier a workload took one on a file of its
 * `:ro` grant and the host's `open(O_WRONLY)` waited for it; the filter now
 * answers F_SETLEASE with EINVAL, as a host with leases off and gVisor do.
 */
const TIERS = [new HardenedTier(), new GvisorTier()] as const;
const dir = mkdtempSync(join(tmpdir(), 'oacp-leases-'));
const file = join(dir, 'notes.txt');
writeFileSync(file, 'the operator edits this file\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const started: NativeSandbox[] = [];
afterEach(async () => {
  for (const sandbox of started.splice(0)) await sandbox.stop();
});

/** Ignores SIGIO (so a lease break does not end it), takes a read lease, says how it went, holds it. */
const HOLDER = `
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.fcntl(fd, 1024, fcntl.F_RDLCK)
    print('leased', flush=True)
except OSError as e:
    print('refused', e.errno, flush=True)
sys.stdin.read()
`;

/** A host writer that does not wait: with O_NONBLOCK an open a lease holds up fails with EWOULDBLOCK at once. */
function hostOpensForWriting(): string {
  const script = `
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))
    print('opened')
except OSError as e:
    print(errno.errorcode[e.errno])
`;
  return spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' }).stdout.trim();
}

for (const tier of TIERS) {
  const available = existsSync(PYTHON) && (await tier.availability()).available;
  describe.skipIf(!available)(`${tier.name}: a lease on a file of a read-only grant`, () => {
    it('is refused, and the host opens the file for writing at once', async () => {
      // As a regular user on a cgroup v1 host the controllers are not delegated: what is tested here is no quota.
      const quotas = isRoot ? {} : { allow_unenforced: ['memory', 'pids', 'cpu'] };
      const sandbox = await tier.start({
        command: PYTHON,
        args: ['-c', HOLDER, file],
        env: {},
        manifest: manifest({ file_read: [`${dir}/**`] }, {}, quotas),
      });
      started.push(sandbox);
      const said = await new Promise<string>((resolve, reject) => {
        let out = '';
        sandbox.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.endsWith('\n')) resolve(out);
        });
        sandbox.exit.then((status) => reject(new Error(`exited early: ${JSON.stringify(status)} ${out}`)));
      });
      // The workload is still there, holding whatever it got: the host's writer is not held up (EAGAIN before).
      expect(hostOpensForWriting()).toBe('opened');
      expect(said).toBe('refused 22\n');
    });
  });
}
