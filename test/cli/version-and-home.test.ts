import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oacp, oacpAsUid1000, oacpBinary, tempDir, uid1000Home } from './harness.js';

const VERSION = (
  JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

describe('oacp --version', () => {
  it.each(['--version', '-V'])(
    '%s prints the package version and exits 0 (in-process and the built binary)',
    async (flag) => {
      const inProcess = await oacp([flag]);
      expect(inProcess).toEqual({ code: 0, stdout: VERSION, stderr: '' });
      const binary = oacpBinary([flag]);
      expect(binary.code).toBe(0);
      expect(binary.stdout).toBe(`${VERSION}\n`);
      expect(binary.stderr).toBe('');
    },
  );
});

describe('a home or state directory on /proc or /sys', () => {
  // Node's recursive mkdir never returns on a missing path under /proc: without the check these
  // commands spin until the timeout kills them (status null).
  const cases: readonly { name: string; args: string[]; env: Record<string, string>; names: string }[] = [
    { name: '--home under /proc', args: ['--home', '/proc/oacp-x', 'init'], env: {}, names: '--home' },
    {
      name: 'OACP_HOME under /proc',
      args: ['init'],
      env: { OACP_HOME: '/proc/self/oacp' },
      names: 'OACP_HOME',
    },
    {
      name: '--home under /sys',
      args: ['--home', '/sys/fs/cgroup/oacp-x', 'init'],
      env: {},
      names: '--home',
    },
    {
      name: 'XDG_STATE_HOME under /proc',
      args: ['init'],
      env: { XDG_STATE_HOME: '/proc/x' },
      names: 'XDG_STATE_HOME',
    },
    {
      name: 'XDG_CACHE_HOME under /proc',
      args: ['run', '--', '/bin/true'],
      env: { XDG_CACHE_HOME: '/proc/x/y' },
      names: 'XDG_CACHE_HOME',
    },
    { name: 'HOME under /sys', args: ['agent', 'list'], env: { HOME: '/sys/kernel/x' }, names: 'HOME' },
  ];
  it.each(cases)('$name is refused at once with one line naming it', ({ args, env, names }) => {
    const dir = tempDir();
    const result = oacpBinary(args, { HOME: dir, OACP_HOME: join(dir, 'home'), ...env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^oacp: ${names} names \\S+, on the kernel's (proc filesystem|sysfs filesystem|sys directory)`,
      ),
    );
    expect(result.stderr).toContain(`set ${names} to a directory elsewhere`);
  });

  it('a symlink to /proc is refused by what it reaches, not its name', () => {
    const dir = tempDir();
    const link = join(dir, 'link');
    spawnSync('ln', ['-s', '/proc/self', link]);
    const result = oacpBinary(['--home', join(link, 'home'), 'init'], { HOME: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^oacp: --home names .*, on the kernel's proc filesystem/);
  });

  it('is refused for a regular user too (uid 1000), and an ordinary home still works', () => {
    const dir = tempDir('oacp-proc-home-');
    const home = uid1000Home(dir);
    try {
      const asUser = (env: Record<string, string>) => oacpAsUid1000(['init'], home, env);
      const refused = asUser({ OACP_HOME: '/proc/1/oacp' });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /^oacp: OACP_HOME names \/proc\/1\/oacp, on the kernel's proc filesystem/,
      );
      const fine = asUser({});
      expect(fine.code).toBe(0);
      expect(fine.stdout).toContain(`initialized OACP home ${join(home, '.oacp')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(process.getuid?.() === 0)("root and another account's home", () => {
  // Files root made in uid 1000's home (intents, the log, quota stores) were root's, and the
  // owner's next command was refused: root now refuses the home instead, naming where it came from.
  it("root is refused on uid 1000's home (--home, OACP_HOME, HOME) and changes nothing; the owner's commands keep working", () => {
    const dir = tempDir('oacp-other-owner-');
    const user = uid1000Home(dir);
    const home = join(user, '.oacp');
    const asUser = (args: string[]) => oacpAsUid1000(args, user);
    try {
      expect(asUser(['init']).code).toBe(0);
      const before = spawnSync('find', [home, '-printf', '%p %u\n'], { encoding: 'utf8' }).stdout;
      for (const [args, env, names] of [
        [['--home', home, 'agent', 'create', 'bob'], {}, '--home'],
        [['agent', 'create', 'bob'], { OACP_HOME: home }, 'OACP_HOME'],
        [['run', '--no-receipt', '--', '/bin/true'], { HOME: user }, 'HOME'],
      ] as const) {
        const asRoot = oacpBinary([...args], { HOME: tempDir(), ...env });
        expect(asRoot.code).toBe(2);
        expect(asRoot.stderr).toBe(
          `oacp: ${names} names ${home}, the OACP home of uid 1000; as root, files made there would lock its owner out: run the command as uid 1000, or set ${names} to a home of root's\n`,
        );
      }
      expect(spawnSync('find', [home, '-printf', '%p %u\n'], { encoding: 'utf8' }).stdout).toBe(before);
      const owner = asUser(['agent', 'create', 'bob']);
      expect(owner.stderr).toBe('');
      expect(owner.code).toBe(0);
      // Root's own home is fine.
      const rootHome = join(tempDir(), 'root-home');
      expect(oacpBinary(['--home', rootHome, 'init']).code).toBe(0);
      expect(oacpBinary(['--home', rootHome, 'agent', 'create', 'bob']).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
