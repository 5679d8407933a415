import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, isRoot, oacpCli, openDir, who } from './confine-harness.js';

/**
 * Issue 9 (files): the sandbox gets its own /proc, /sys and /dev, and a grant
 * of host /proc is refused by name. The same filesystems under another name
 * were bound: a bind mount of /proc elsewhere showed every host process's
 * command line (a marker process's argv is the canary here), a cgroup mount
 * let a workload running as host uid 0 write cgroup files, and a directory
 * holding such a mount bound it with itself. Now refused by what the opened
 * grant is on (its mount's filesystem type), in both tiers, as root and as
 * uid 1000. Making the mounts needs root; the regular user then attacks
 * through what root left behind.
 */
const available = {
  hardened: (await new HardenedTier().availability()).available,
  gvisor: (await new GvisorTier().availability()).available,
};
const CANARY = `host-argv-canary-${process.pid}`;

describe.skipIf(!isRoot)('grants of kernel filesystems under another name', () => {
  const root = openDir('oacp-kernel-fs-');
  const at = (name: string) => join(root, name);
  const mounts: string[] = [];
  let marker: ChildProcess | undefined;

  beforeAll(() => {
    for (const dir of ['proc-alias', 'cgroup-alias', 'holder/inner']) mkdirSync(at(dir), { recursive: true });
    const mount = (args: readonly string[], target: string) => {
      execFileSync('mount', [...args, target]);
      mounts.unshift(target);
    };
    mount(['--bind', '/proc'], at('proc-alias'));
    // --rbind: the cgroup hierarchies mounted below /sys/fs/cgroup come along (cgroup v1 hybrid here).
    mount(['--rbind', '/sys/fs/cgroup'], at('cgroup-alias'));
    mount(['-t', 'proc', 'proc'], at('holder/inner'));
    // A host process whose command line the workload must never see.
    marker = spawn('/bin/sh', ['-c', 'sleep 600', CANARY], { stdio: 'ignore' });
  });
  afterAll(() => {
    marker?.kill('SIGKILL');
    for (const target of mounts) execFileSync('umount', ['-l', target]);
    rmSync(root, { recursive: true, force: true });
  });

  const attacks: readonly { name: string; grant: string; read: string; refusal: RegExp }[] = [
    {
      name: 'a bind mount of host /proc',
      grant: 'proc-alias',
      read: 'proc-alias',
      refusal: /is on a host proc filesystem/,
    },
    {
      name: 'a path inside a bind mount of host /proc',
      grant: 'proc-alias/1',
      read: 'proc-alias',
      refusal: /is on a host proc filesystem/,
    },
    {
      name: 'a recursive bind mount of the host cgroup tree, writable',
      grant: 'cgroup-alias:rw',
      read: 'cgroup-alias',
      refusal:
        /is on a host cgroup2? filesystem|holds the mount .*cgroup-alias.*, a host cgroup2? filesystem/,
    },
    {
      name: 'a directory holding a procfs mount',
      grant: 'holder',
      read: 'holder/inner',
      refusal: /holds the mount .*holder\/inner, a host proc filesystem/,
    },
  ];

  for (const tier of ['hardened', 'gvisor'] as const) {
    describe.skipIf(!available[tier])(tier, () => {
      for (const user of ATTACKERS) {
        for (const attack of attacks) {
          it(`refuses ${attack.name} ${who(user)}, and shows no host command line`, async () => {
            const result = await oacpCli(
              [
                'run',
                '--tier',
                tier,
                '--allow-files',
                at(attack.grant),
                '--',
                '/bin/sh',
                '-c',
                `cat ${at(attack.read)}/[0-9]*/cmdline | tr '\\0' ' '; ls ${at(attack.read)}`,
              ],
              user === undefined ? {} : { asUser: user },
            );
            // A boolean, so a failure does not print every host command line into the test log.
            expect((result.stdout + result.stderr).includes(CANARY)).toBe(false);
            expect(result.code).not.toBe(0);
            expect(result.stderr).toMatch(attack.refusal);
          });
        }
      }
    });
  }
});
