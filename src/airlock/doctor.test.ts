import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CgroupHost } from './cgroups/index.js';
import { cgroupJoinFact, claimsWorkloadIds, identityFact, socketBufferFact } from './doctor.js';
import { WORKLOAD_ID, WORKLOAD_ID_COUNT } from './native/identity.js';

describe('oacp doctor: workload identity', () => {
  it.skipIf(process.getuid?.() !== 0)(
    'as root names the mechanism this host gets (idmapped mounts here)',
    () => {
      const fact = identityFact();
      expect(fact.name).toBe('workload identity');
      // This host (kernel 6.18, ext4 /tmp) has idmapped mounts; elsewhere the line says why not and the opt-out.
      expect(fact.ok ? fact.detail : `${fact.detail}`).toMatch(
        fact.ok
          ? new RegExp(`idmapped mounts \\(workload uid ${WORKLOAD_ID}`)
          : /--allow-unenforced identity/,
      );
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    'as root fails when the lease directory is under one another user could swap (what every start would refuse)',
    () => {
      const parent = mkdtempSync(join(tmpdir(), 'oacp-doctor-leases-'));
      try {
        chownSync(parent, 1000, 1000);
        const fact = identityFact(tmpdir(), { dir: join(parent, 'ids') });
        expect(fact.ok).toBe(false);
        expect(fact.detail).toContain(
          `${parent} (on the path of ${join(parent, 'ids')}, the workload id leases) must be owned by root`,
        );
      } finally {
        rmSync(parent, { recursive: true, force: true });
      }
    },
  );

  it('fails on any id of the leased range in passwd or group, and on a subordinate range overlapping it', () => {
    const last = WORKLOAD_ID + WORKLOAD_ID_COUNT;
    expect(
      claimsWorkloadIds('/etc/passwd', 'root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh'),
    ).toBe(false);
    expect(claimsWorkloadIds('/etc/passwd', `w:x:${WORKLOAD_ID}:100::/:/bin/sh`)).toBe(true);
    expect(claimsWorkloadIds('/etc/passwd', `w:x:${WORKLOAD_ID + 4242}:100::/:/bin/sh`)).toBe(true);
    expect(claimsWorkloadIds('/etc/group', `g:x:${last}:`)).toBe(true);
    expect(claimsWorkloadIds('/etc/group', `g:x:${last + 1}:`)).toBe(false);
    expect(claimsWorkloadIds('/etc/subuid', 'u:100000:65536')).toBe(false);
    // Starts below the range and reaches into it: every id in it would be someone's container root.
    expect(claimsWorkloadIds('/etc/subuid', `u:${WORKLOAD_ID - 10}:65536`)).toBe(true);
    expect(claimsWorkloadIds('/etc/subgid', `u:${last}:1`)).toBe(true);
    expect(claimsWorkloadIds('/etc/subgid', `u:${last + 1}:1000`)).toBe(false);
  });

  it.skipIf(process.getuid?.() === 0)('not root: the invoking user', () => {
    expect(identityFact()).toMatchObject({ ok: true, detail: expect.stringContaining('invoking user') });
  });
});

/** mountinfo lines as the kernel writes them: a systemd v2 host, the same with favordynmods, a hybrid v1 host. */
const PURE_V2 =
  '35 26 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';
const FAVOURED = PURE_V2.replace('rw,nsdelegate,', 'rw,nsdelegate,favordynmods,');
const HYBRID = '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw';

const v2Host = (parent: string): CgroupHost => {
  const support = { available: true, version: 2, parents: [parent] } as const;
  return { memory: support, pids: support, cpu: support, io: support };
};

describe('oacp doctor: cgroup join', () => {
  const parent = '/sys/fs/cgroup/system.slice/oacp.service';

  it('on v2 without favordynmods says what each start waits for and how to remount', () => {
    const fact = cgroupJoinFact(v2Host(parent), PURE_V2);
    expect(fact.ok).toBe(false);
    expect(fact.detail).toContain('without favordynmods');
    expect(fact.detail).toContain('RCU grace period');
    expect(fact.detail).toContain('mount -o remount,favordynmods /sys/fs/cgroup');
  });

  it('on v2 with favordynmods says the join has no grace period', () => {
    const fact = cgroupJoinFact(v2Host(parent), FAVOURED);
    expect(fact).toMatchObject({ name: 'cgroup join', ok: true });
    expect(fact.detail).toContain('mounted with favordynmods');
  });

  it('on v1 says the join goes through tasks', () => {
    const support = { available: true, version: 1, parents: ['/sys/fs/cgroup/memory'] } as const;
    const fact = cgroupJoinFact({ memory: support, pids: support, cpu: support, io: support }, HYBRID);
    expect(fact).toMatchObject({ ok: true });
    expect(fact.detail).toMatch(/^cgroup v1: .*tasks file \(no RCU grace period\)$/);
  });
});

describe('oacp doctor: socket buffers', () => {
  const v1 = { available: true, version: 1, parents: ['/sys/fs/cgroup/memory/oacp'] } as const;
  const v1Host: CgroupHost = { memory: v1, pids: v1, cpu: v1, io: v1 };

  it('fault: a v1 kernel without memory.kmem.tcp.limit_in_bytes says socket buffers escape the memory quota', () => {
    const fact = socketBufferFact(v1Host, () => false, '');
    expect(fact).toMatchObject({ name: 'socket buffers', ok: false });
    expect(fact.detail).toContain('no memory.kmem.tcp.limit_in_bytes in /sys/fs/cgroup/memory/oacp');
    expect(fact.detail).toContain('--tier gvisor');
  });

  it('on v1 with the file, and on v2, says socket buffers are charged', () => {
    const seen: string[] = [];
    const exists = (path: string) => {
      seen.push(path);
      return true;
    };
    expect(socketBufferFact(v1Host, exists, '')).toMatchObject({ ok: true });
    expect(seen).toEqual(['/sys/fs/cgroup/memory/oacp/memory.kmem.tcp.limit_in_bytes']);
    const v2 = socketBufferFact(v2Host('/sys/fs/cgroup/oacp'), () => false, '');
    expect(v2.ok).toBe(true);
    expect(v2.detail).toContain('memory.max');
  });

  it('fault: booted with cgroup.memory=nosocket, or without a memory controller, it is not charged on either version', () => {
    for (const host of [v1Host, v2Host('/sys/fs/cgroup/oacp')]) {
      const fact = socketBufferFact(host, () => true, 'ro quiet cgroup.memory=nokmem,nosocket');
      expect(fact.ok).toBe(false);
      expect(fact.detail).toContain('cgroup.memory=nosocket');
    }
    const none = { available: false, reason: 'cgroup v1 memory at /x is not writable by uid 1000' } as const;
    const fact = socketBufferFact({ memory: none, pids: none, cpu: none, io: none }, () => true, '');
    expect(fact.ok).toBe(false);
    expect(fact.detail).toContain(
      'no memory controller (cgroup v1 memory at /x is not writable by uid 1000)',
    );
  });
});
