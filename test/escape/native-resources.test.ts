import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { isRoot, oacpCli, openDir, REGULAR_USER } from './confine-harness.js';
import { manifest, PYTHON, run } from './native-harness.js';

/** Resource attacks: each must end with the quota named in killedBy or refused by a kernel limit. */
const tier = new HardenedTier({ pollMs: 25 });
const availability = await tier.availability();
const skip = !availability.available || !existsSync(PYTHON);
if (skip)
  console.log(
    'skipping hardened resource escapes:',
    availability.available ? `${PYTHON} missing` : availability.reason,
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function processesMentioning(marker: string): string[] {
  return readdirSync('/proc').filter((pid) => {
    try {
      return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  });
}

function setuidBinary(): string | undefined {
  for (const name of ['mount', 'su', 'passwd', 'newgrp']) {
    const path = `/usr/bin/${name}`;
    try {
      if ((statSync(path).mode & 0o4000) !== 0) return path;
    } catch {
      // not installed
    }
  }
  return undefined;
}

describe.skipIf(skip)('hardened tier resource limits', () => {
  it('stops a fork bomb at the pids limit', async () => {
    const marker = `bomb-${process.pid}-${Date.now()}`;
    const result = await run(tier, {
      command: '/bin/sh',
      args: ['-c', `bomb() { bomb | bomb & }; bomb; sleep 5 # ${marker}`],
      manifest: manifest({}, { max_pids: 32, cpu_ms_per_request: 5000 }),
    });
    // pids.max (or RLIMIT_NPROC without a cgroup) refuses forks; the supervisor's count is the backstop.
    const refusedByKernel = /fork|Resource temporarily unavailable/i.test(result.err);
    expect(result.status.killedBy === 'pids' || refusedByKernel).toBe(true);
    // The kernel tears the pid namespace down asynchronously; nothing may survive it.
    for (let i = 0; i < 60 && processesMentioning(marker).length > 0; i++) await sleep(50);
    expect(processesMentioning(marker)).toEqual([]);
  });

  it('kills a memory bomb at the memory quota', async () => {
    const result = await run(tier, {
      command: PYTHON,
      args: [
        '-c',
        'import time\nchunks = []\nwhile True:\n  chunks.append(bytearray(16 << 20))\n  time.sleep(0.005)',
      ],
      manifest: manifest({}, { memory_mb: 64 }),
    });
    expect(result.status.killedBy).toBe('memory');
    // The cgroup's peak charge stops at the limit; polled RSS (no cgroup) passes it by a sample's worth.
    expect(result.usage.memoryPeakBytes).toBeGreaterThanOrEqual(48 * 1024 * 1024);
  });

  it('kills one huge allocation that is touched, without RLIMIT_AS', async () => {
    const result = await run(tier, {
      command: PYTHON,
      args: ['-c', 'b = bytearray(b"x" * (4 << 30))'],
      manifest: manifest({}, { memory_mb: 64 }),
    });
    expect(result.status.killedBy).toBe('memory');
  });

  it('kills an infinite loop at the CPU deadline', async () => {
    const result = await run(tier, {
      command: PYTHON,
      args: ['-c', 'while True: pass'],
      // No start-up allowance: the loop's first stretch is judged by the per-request limit.
      manifest: manifest({}, { cpu_ms_per_request: 300, startup_cpu_ms: 0 }),
    });
    expect(result.status.killedBy).toBe('cpu');
    expect(result.usage.cpuMs).toBeGreaterThanOrEqual(300);
  });

  it('kills an output flood at max_output_bytes and delivers exactly the cap', async () => {
    const result = await run(tier, {
      command: '/usr/bin/yes',
      args: ['flood'],
      manifest: manifest({}, { max_output_bytes: 65536 }),
    });
    expect(result.status.killedBy).toBe('max_output_bytes');
    expect(result.out.length).toBe(65536);
  });

  it('refuses file descriptors past max_open_files', async () => {
    const result = await run(tier, {
      command: PYTHON,
      args: [
        '-c',
        'import os\nfds = []\ntry:\n  while True: fds.append(os.open("/dev/null", os.O_RDONLY))\nexcept OSError as e: print(len(fds), e.strerror)',
      ],
      manifest: manifest({}, { max_open_files: 64 }),
    });
    const [count, ...message] = result.out.trim().split(' ');
    expect(Number(count)).toBeLessThanOrEqual(64);
    expect(message.join(' ')).toBe('Too many open files');
  });

  it('caps /tmp at tmp_mb', async () => {
    const result = await run(tier, {
      command: PYTHON,
      args: [
        '-c',
        'try:\n  open("/tmp/fill", "wb").write(b"x" * (8 << 20))\nexcept OSError as e: print(e.strerror)',
      ],
      manifest: manifest({}, { tmp_mb: 2 }),
    });
    expect(result.out.trim()).toBe('No space left on device');
  });

  // Closing note 5: /dev/shm was on bwrap's unsized /dev tmpfs, unbounded with memory opted out.
  const FILL_SHM = (mb: number) =>
    `try:\n  open("/dev/shm/fill", "wb").write(b"x" * (${mb} << 20))\n  print("wrote")\nexcept OSError as e: print(e.strerror)`;
  it.skipIf(!isRoot)(
    'caps /dev/shm at tmp_mb for a user without the memory cgroup (uid 1000, through the CLI), and /dev itself is read-only',
    async () => {
      const dir = openDir('oacp-shm-');
      try {
        const file = join(dir, 'tmp2.yaml');
        writeFileSync(
          file,
          'apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: shm\nquotas:\n  tmp_mb: 2\n',
        );
        const script = `${FILL_SHM(8)}\ntry:\n  open("/dev/planted", "wb").write(b"x")\nexcept OSError as e: print(e.strerror)`;
        const result = await oacpCli(['run', '--manifest', file, '--', PYTHON, '-c', script], {
          env: { HOME: dir, OACP_HOME: join(dir, 'home') },
          asUser: REGULAR_USER,
        });
        expect(result.stdout.trim().split('\n')).toEqual([
          'No space left on device',
          'Read-only file system',
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it('sizes /dev/shm to the memory quota when the memory cgroup enforces it (shared memory for browsers), writable by the workload', async () => {
    const result = await run(tier, {
      command: PYTHON,
      args: [
        '-c',
        `import os\n${FILL_SHM(8)}\nst = os.statvfs("/dev/shm")\nprint(st.f_blocks * st.f_frsize >> 20, oct(os.stat("/dev/shm").st_mode & 0o7777))`,
      ],
      manifest: manifest({}, { tmp_mb: 2, memory_mb: 96 }),
    });
    // Without a memory cgroup (a host without the controller) the tmp_mb cap applies instead.
    const expected = result.status.killedBy === undefined ? ['wrote', '96 0o1777'] : [];
    expect(result.out.trim().split('\n')).toEqual(expected);
  });

  it('sets RLIMIT_FSIZE and disables core dumps', async () => {
    const result = await run(tier, {
      command: '/bin/sh',
      args: ['-c', 'ulimit -f; ulimit -c'],
      manifest: manifest(),
    });
    expect(result.out.trim().split('\n')).toEqual([String((1024 * 1024 * 1024) / 512), '0']);
  });

  const setuid = setuidBinary();
  it.skipIf(setuid === undefined)('gains nothing from a setuid-root binary', async () => {
    const result = await run(tier, {
      command: '/bin/sh',
      args: [
        '-c',
        `${setuid} --help >/dev/null 2>&1; /usr/bin/mount -t tmpfs none /tmp 2>&1; echo "exit=$?"`,
      ],
      manifest: manifest(),
    });
    expect(result.out).toMatch(/permission denied|not permitted|must be superuser/i);
    expect(result.out).toMatch(/exit=(1|32)/);
  });
});
