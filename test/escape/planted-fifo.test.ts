import { spawnSync } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { ATTACKERS, CLI, isRoot, oacpCli, openDir, who } from './confine-harness.js';

/**
 * Issue 9 (special files in grants): a sandbox with a `:rw` grant may make a FIFO there (mkfifo is
 * an ordinary file operation; device nodes are refused: test/escape/confine.test.ts). Planted where
 * the operator's next manifest, policy or config is looked for, it hung the next `oacp` that read it
 * in open(2), forever: nobody writes to it. Files a user names are now opened without blocking, so
 * such a FIFO reads as empty and is refused as what it is; a pipe with a writer (`--manifest
 * /dev/stdin`, process substitution) still works. Through the real CLI, as root and as uid 1000.
 */
const hardened = (await new HardenedTier().availability()).available;
const root = openDir('oacp-planted-fifo-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The operator's next command on the planted file: a hang is a null status after 20 s. */
function next(args: readonly string[], piped?: string): { status: number | null; stderr: string } {
  const command = [process.execPath, CLI, ...args].map((arg) => `'${arg}'`).join(' ');
  // A shell pipe, as `--manifest <(...)` or `... | oacp` make (Node's own stdio pipes are socket pairs).
  const script = piped === undefined ? `${command} </dev/null` : `printf '%s' '${piped}' | ${command}`;
  const result = spawnSync('/bin/sh', ['-c', script], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: root },
    timeout: 20_000,
  });
  return { status: result.status, stderr: result.stderr };
}

describe.skipIf(!hardened)('a FIFO a sandbox planted in its :rw grant', () => {
  for (const user of ATTACKERS) {
    it(`${who(user)}: the next oacp reading it as a manifest, policy or config does not hang`, {
      timeout: 120_000,
    }, async () => {
      const project = join(root, user === undefined ? 'invoker' : 'uid1000');
      mkdirSync(project, { mode: 0o700 });
      if (user !== undefined) chownSync(project, user.uid, user.gid);
      const planted = await oacpCli(
        [
          'run',
          // A regular user's limits are not kernel-enforced on this host (cgroup v1): said so by name.
          ...(user === undefined && !isRoot ? ['--allow-unenforced', 'memory,pids,cpu,disk_io'] : []),
          '--tier',
          'hardened',
          '--allow-files',
          `${project}:rw`,
          '--',
          '/bin/sh',
          '-c',
          `cd ${project} && mkfifo m.yaml policy.cedar oacp.yaml && echo planted`,
        ],
        user === undefined ? {} : { asUser: user },
      );
      expect(planted.stdout).toContain('planted');
      expect(lstatSync(join(project, 'm.yaml')).isFIFO()).toBe(true);

      const manifest = next([
        'run',
        '--no-receipt',
        '--manifest',
        join(project, 'm.yaml'),
        '--',
        '/bin/true',
      ]);
      expect(manifest.status).toBe(1);
      expect(manifest.stderr).toContain('manifest');
      // Read as an empty file, which is the default configuration: no hang is what matters here.
      expect(next(['config', 'check', join(project, 'oacp.yaml')]).status).not.toBeNull();
      const policy = next([
        'policy',
        'test',
        '--policy',
        join(project, 'policy.cedar'),
        '--action',
        'tools/call',
        '--principal',
        'agent',
        '--resource',
        'echo',
      ]);
      expect(policy.status).not.toBeNull();
    });
  }

  it('a pipe with a writer is still read whole: --manifest /dev/stdin', () => {
    const manifest = 'apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: piped\n';
    const optOut = isRoot ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io'];
    const piped = next(
      ['run', '--no-receipt', ...optOut, '--manifest', '/dev/stdin', '--', '/bin/true'],
      manifest,
    );
    expect(piped.stderr).toBe('');
    expect(piped.status).toBe(0);
  });
});
