import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oacpAsUid1000, oacpBinary, tempDir, uid1000Home } from './harness.js';

/**
 * On cgroup v1 the memory quota bounds a sandbox's socket buffers only when the
 * kernel has memory.kmem.tcp.limit_in_bytes (v2 charges them always); without
 * it they were unbounded and nothing said so. `oacp doctor --json` now has a
 * host fact for it, read here against the host itself: the memory controller
 * the doctor names, and whether that cgroup has the file.
 */
interface Fact {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

function facts(stdout: string): Fact[] {
  return (JSON.parse(stdout) as { host: Fact[] }).host;
}

function expected(host: readonly Fact[]): boolean {
  const memory = host.find((fact) => fact.name === 'cgroup memory');
  const where = /^cgroup v(1|2) at (\S+)$/.exec(memory?.detail ?? '');
  if (memory?.ok !== true || where === null) return false;
  return where[1] === '2' || existsSync(join(where[2] ?? '', 'memory.kmem.tcp.limit_in_bytes'));
}

describe('oacp doctor: socket buffers', () => {
  it('says in its JSON whether socket buffers are charged to the memory quota on this host', () => {
    const result = oacpBinary(['--home', join(tempDir(), 'home'), 'doctor', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const host = facts(result.stdout);
    const fact = host.find((entry) => entry.name === 'socket buffers');
    expect(fact?.ok).toBe(expected(host));
    expect(fact?.detail).toMatch(fact?.ok === true ? /^charged to/ : /^not charged to/);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'as root on this cgroup v1 host: charged; as uid 1000 (no memory controller): not, and says why',
    () => {
      const root = facts(oacpBinary(['--home', join(tempDir(), 'home'), 'doctor', '--json']).stdout);
      const v1 = root.find((entry) => entry.name === 'cgroup memory')?.detail.startsWith('cgroup v1 at ');
      const asRoot = root.find((entry) => entry.name === 'socket buffers');
      if (v1 === true && asRoot?.ok === true)
        expect(asRoot.detail).toContain('the quota also sets memory.kmem.tcp.limit_in_bytes');
      const home = uid1000Home(tempDir());
      const user = oacpAsUid1000(['--home', join(home, 'oacp'), 'doctor', '--json'], home);
      expect(user.code, user.stderr).toBe(0);
      const fact = facts(user.stdout).find((entry) => entry.name === 'socket buffers');
      if (v1 === true) {
        expect(fact?.ok).toBe(false);
        expect(fact?.detail).toMatch(
          /^not charged to .*: no memory controller \(cgroup v1 memory at .* not writable/,
        );
      }
    },
  );
});
