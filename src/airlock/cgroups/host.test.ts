import { describe, expect, it } from 'vitest';
import { cgroupFacts } from '../doctor.js';
import { detectCgroupHost } from './host.js';

const V1_HYBRID_MOUNTS = [
  'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0',
  'cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0',
  'cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,nodev,noexec,relatime,pids 0 0',
  'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0',
  'cgroup /sys/fs/cgroup/blkio cgroup rw,nosuid,nodev,noexec,relatime,blkio 0 0',
].join('\n');
const V1_SELF = ['5:blkio:/', '4:cpu,cpuacct:/', '3:pids:/', '2:memory:/job/7', '0::/'].join('\n');
const V2_MOUNTS = 'cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0';
const V2_SELF = '0::/user.slice/user-1000.slice/app.scope';
const V2_DIR = '/sys/fs/cgroup/user.slice/user-1000.slice/app.scope';

describe('detectCgroupHost', () => {
  it('uses the v1 hierarchies of a hybrid host, nested under this process, when root can write them', () => {
    const host = detectCgroupHost({
      mounts: V1_HYBRID_MOUNTS,
      selfCgroup: V1_SELF,
      writable: () => true,
      read: (path) => (path === '/sys/fs/cgroup/unified/cgroup.controllers' ? '\n' : undefined),
    });
    expect(host.memory).toEqual({ available: true, version: 1, parents: ['/sys/fs/cgroup/memory/job/7'] });
    // cpu and cpuacct co-mounted: one directory serves both.
    expect(host.cpu).toEqual({ available: true, version: 1, parents: ['/sys/fs/cgroup/cpu,cpuacct'] });
    expect(host.io).toEqual({ available: true, version: 1, parents: ['/sys/fs/cgroup/blkio'] });
  });

  it('says why v1 is unusable for a regular user', () => {
    const host = detectCgroupHost({ mounts: V1_HYBRID_MOUNTS, selfCgroup: V1_SELF, writable: () => false });
    expect(host.pids).toMatchObject({
      available: false,
      reason: expect.stringMatching(/not writable.*v1 needs root/),
    });
  });

  it('uses a delegated v2 subtree, enabling controllers it is offered', () => {
    const enabled: string[] = [];
    const host = detectCgroupHost({
      mounts: V2_MOUNTS,
      selfCgroup: V2_SELF,
      writable: (path) => path === V2_DIR,
      read: (path) => (path === `${V2_DIR}/cgroup.controllers` ? 'cpu io memory pids\n' : 'memory pids\n'),
      enable: (_parent, controller) => {
        enabled.push(controller);
        return true;
      },
    });
    expect(host.memory).toEqual({ available: true, version: 2, parents: [V2_DIR] });
    expect(host.cpu).toEqual({ available: true, version: 2, parents: [V2_DIR] });
    expect(enabled).toEqual(['cpu', 'io']);
  });

  it('keeps sandboxes beside the leaf OACP moved itself into, not below it', () => {
    const host = detectCgroupHost({
      mounts: V2_MOUNTS,
      selfCgroup: `${V2_SELF}/oacp-supervisor`,
      writable: (path) => path === V2_DIR,
      read: () => 'cpu io memory pids',
    });
    expect(host.pids).toEqual({ available: true, version: 2, parents: [V2_DIR] });
  });

  it('reports a v2 subtree that is not delegated, or whose controllers cannot be enabled', () => {
    const notDelegated = detectCgroupHost({
      mounts: V2_MOUNTS,
      selfCgroup: V2_SELF,
      writable: () => false,
      read: () => 'cpu io memory pids',
    });
    expect(notDelegated.memory).toMatchObject({
      available: false,
      reason: expect.stringMatching(/not delegated/),
    });
    const busy = detectCgroupHost({
      mounts: V2_MOUNTS,
      selfCgroup: V2_SELF,
      writable: () => true,
      read: (path) => (path.endsWith('cgroup.controllers') ? 'cpu io memory pids' : ''),
      enable: () => false,
    });
    expect(busy.io).toMatchObject({ available: false, reason: expect.stringMatching(/cannot be enabled/) });
  });

  it('gives doctor one line per controller with the fallback and the opt-out', () => {
    const facts = cgroupFacts(detectCgroupHost({ mounts: '', selfCgroup: '' }));
    expect(facts.map((fact) => fact.name)).toEqual([
      'cgroup memory',
      'cgroup pids',
      'cgroup cpu',
      'cgroup io',
    ]);
    expect(facts[0]).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/--allow-unenforced memory, then: resident memory polled/),
    });
    expect(facts[3]?.detail).toMatch(/--allow-unenforced disk_io/);
  });
});
