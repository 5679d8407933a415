import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HardenedTier, type NativeSandbox, SANDBOX_MAX_PTYS } from '../../src/airlock/native/hardened.js';
import { isRoot } from './confine-harness.js';
import { manifest, PYTHON } from './native-harness.js';

/**
 * Terminals are counted for the whole host: kernel.pty.max (4096), of which
 * all but kernel.pty.reserve (1024) are shared by every devpts instance but
 * the host's own. bwrap's /dev/pts instance has no cap of its own, so a
 * hardened sandbox opened /dev/ptmx 3072 times (in four processes, 1024
 * descriptors each) and, while it held them, every other sandbox (and every
 * container on the host) failed to open a terminal with ENOSPC. The sandbox's
 * /dev/pts is now an instance capped at SANDBOX_MAX_PTYS. gVisor's terminals
 * live in its own kernel.
 */
const tier = new HardenedTier();
const available = existsSync(PYTHON) && (await tier.availability()).available;
const cwd = mkdtempSync(join(tmpdir(), 'oacp-ptys-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));
const started: NativeSandbox[] = [];
afterEach(async () => {
  for (const sandbox of started.splice(0)) await sandbox.stop();
});

const sysctl = (name: string): number => Number(readFileSync(`/proc/sys/kernel/pty/${name}`, 'utf8').trim());
/** What all devpts instances but the host's share. */
const SHARED = sysctl('max') - sysctl('reserve');

/** Opens /dev/ptmx up to argv[1] times, 1000 per process, until refused; says how many and why; holds them. */
const HOG = `
import os, sys
want, held, error = int(sys.argv[1]), 0, 0
while held < want and error == 0:
    r, w = os.pipe()
    if os.fork() == 0:
        count, code = 0, 0
        try:
            while count < min(1000, want - held):
                os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)
                count += 1
        except OSError as e:
            code = e.errno
        os.write(w, b'%d %d' % (count, code))
        sys.stdin.read()
        os._exit(0)
    os.close(w)
    count, error = map(int, os.read(r, 64).split())
    held += count
print('ptys', held, error, flush=True)
sys.stdin.read()
`;

/** Opens one terminal and says whether it could. */
const VICTIM = `
import os, sys
try:
    os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)
    print('pty ok', flush=True)
except OSError as e:
    print('pty errno', e.errno, flush=True)
sys.stdin.read()
`;

async function holding(script: string, args: string[], until: RegExp): Promise<string> {
  // As a regular user on a cgroup v1 host the controllers are not delegated: what is tested here is no quota.
  const quotas = isRoot ? {} : { allow_unenforced: ['memory', 'pids', 'cpu'] };
  const sandbox = await tier.start({
    command: PYTHON,
    args: ['-c', script, ...args],
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

describe.skipIf(!available)("hardened: the host's terminals", () => {
  it('a sandbox opening every terminal it can leaves the others theirs', async () => {
    const hog = await holding(HOG, [String(SHARED)], /^ptys \d+ \d+\n/m);
    // Refused at its own cap (ENOSPC), long before the host's count runs out.
    expect(hog).toBe(`ptys ${SANDBOX_MAX_PTYS} 28\n`);
    // While the first one holds them: the next sandbox opens one.
    expect(await holding(VICTIM, [], /^pty /m)).toBe('pty ok\n');
  });
});
