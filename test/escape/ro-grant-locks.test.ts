import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { CLI, openDir } from './confine-harness.js';

/**
 * A read-only grant and file locks (docs/hardened-tier.md, "File locks"): in the gVisor tier a
 * lock the workload takes on a file of a `:ro` grant is the sentry's own and never reaches the
 * host file, so a host process that locks the same file is not held up by a sandbox.
 */
const PYTHON = '/usr/bin/python3';
const gvisor = (await new GvisorTier().availability()).available;

describe.skipIf(!gvisor || !existsSync(PYTHON))('flock on a file of a read-only grant', () => {
  const dir = openDir('oacp-ro-locks-');
  const file = join(dir, 'shared.lock');
  writeFileSync(file, 'x');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gvisor: the workload holds its lock, the host still takes the same lock at once', async () => {
    const hold = `import fcntl, time\nf = open(${JSON.stringify(file)})\nfcntl.flock(f, fcntl.LOCK_EX)\nprint("locked", flush=True)\ntime.sleep(20)`;
    const child = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--no-receipt',
        '--tier',
        'gvisor',
        '--allow-files',
        `${file}:ro`,
        '--',
        PYTHON,
        '-c',
        hold,
      ],
      { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the sandbox never took its lock')), 60_000);
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('locked')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error('the sandbox ended before taking its lock')));
      });
      const host = spawnSync(
        PYTHON,
        [
          '-c',
          `import fcntl\nf = open(${JSON.stringify(file)})\ntry:\n  fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n  print("host locked")\nexcept BlockingIOError:\n  print("host blocked")`,
        ],
        { encoding: 'utf8' },
      );
      expect(host.stdout.trim()).toBe('host locked');
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);
});
