import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QuotasSchema } from '../../capability/manifest.js';
import { createSandboxCgroup, detectCgroupV2 } from './cgroups.js';

const fixture = mkdtempSync(join(tmpdir(), 'oacp-cg-'));
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

describe('detectCgroupV2', () => {
  it('reports a v1 or hybrid host as not delegated', () => {
    const support = detectCgroupV2({
      mountPoint: fixture,
      mounts: `cgroup ${fixture}/memory cgroup rw 0 0\ntmpfs ${fixture} tmpfs rw 0 0`,
      selfCgroup: '0::/\n4:memory:/x',
    });
    expect(support).toEqual({
      delegated: false,
      reason: `${fixture} is not a cgroup v2 mount (cgroup v1 or hybrid host)`,
    });
  });

  it('reports missing controllers in subtree_control', () => {
    mkdirSync(join(fixture, 'user.slice'), { recursive: true });
    writeFileSync(join(fixture, 'user.slice/cgroup.subtree_control'), 'cpu pids\n');
    const support = detectCgroupV2({
      mountPoint: fixture,
      mounts: `cgroup2 ${fixture} cgroup2 rw 0 0`,
      selfCgroup: '0::/user.slice\n',
    });
    expect(support).toMatchObject({
      delegated: false,
      reason: expect.stringMatching(/controllers memory are not enabled/),
    });
  });

  it('accepts a writable v2 cgroup with memory, pids and cpu enabled', () => {
    writeFileSync(join(fixture, 'user.slice/cgroup.subtree_control'), 'cpu memory pids\n');
    const support = detectCgroupV2({
      mountPoint: fixture,
      mounts: `cgroup2 ${fixture} cgroup2 rw 0 0`,
      selfCgroup: '0::/user.slice\n',
    });
    expect(support).toEqual({ delegated: true, path: join(fixture, 'user.slice') });
  });

  it('describes this host', () => {
    const support = detectCgroupV2();
    expect(support.delegated ? support.path : support.reason).toMatch(/cgroup/);
  });
});

describe('createSandboxCgroup', () => {
  it('writes memory, pids and cpu limits from the quotas', () => {
    const quotas = QuotasSchema.parse({ memory_mb: 128, max_pids: 32 });
    const cgroup = createSandboxCgroup(fixture, 'abc', quotas, 3);
    expect(readFileSync(join(cgroup.path, 'memory.max'), 'utf8')).toBe(String(128 * 1024 * 1024));
    expect(readFileSync(join(cgroup.path, 'pids.max'), 'utf8')).toBe('35');
    expect(readFileSync(join(cgroup.path, 'cpu.max'), 'utf8')).toBe('100000 100000');
  });
});
