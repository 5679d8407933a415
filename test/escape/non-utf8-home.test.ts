import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, uid1000Home } from '../cli/harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

/**
 * Node reads argv and the environment as UTF-8, so `--home /d/h\xff` reached OACP as
 * `/d/h\uFFFD`: `oacp init` made and used that look-alike directory, not the one named, and
 * the same for OACP_HOME, HOME (~/.oacp) and the directories OACP writes under XDG_STATE_HOME
 * and XDG_CACHE_HOME. Each is now refused before anything is made, naming the flag or variable.
 */
describe('an OACP home or state directory named with a byte that is not UTF-8', () => {
  const dir = tempDir('oacp-non-utf8-home-');
  chmodSync(dir, 0o777);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * `oacp ARGS` with `env` set; in any value the word RAW becomes `$DIR/h` and the byte 0xff
   * (neither argv nor env can carry it from node, so a shell builds it).
   */
  function oacpRaw(args: readonly string[], env: Record<string, string>, uid1000 = false) {
    const raw = `$(printf '%s/h\\377' "$DIR")`;
    const words = args.map((arg, index) => (arg === 'RAW' ? `"${raw}"` : `"$A${index}"`));
    const assignments = Object.entries(env).map(
      ([name, value]) => `${name}="${value === 'RAW' ? raw : `$V_${name}`}"`,
    );
    const prefix = uid1000 ? '/usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups ' : '';
    const vars: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', DIR: dir };
    args.forEach((arg, index) => {
      vars[`A${index}`] = arg;
    });
    for (const [name, value] of Object.entries(env)) vars[`V_${name}`] = value;
    const run = spawnSync(
      '/bin/sh',
      [
        '-c',
        `export ${assignments.join(' ')}; exec ${prefix}"${process.execPath}" "${BIN}" ${words.join(' ')}`,
      ],
      { encoding: 'utf8', env: vars, timeout: 60_000 },
    );
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  }

  const cases = [
    { name: '--home', args: ['--home', 'RAW', 'init'], env: {} },
    { name: 'OACP_HOME', args: ['init'], env: { OACP_HOME: 'RAW' } },
    { name: 'HOME', args: ['init'], env: { HOME: 'RAW' } },
    { name: 'XDG_STATE_HOME', args: ['init'], env: { XDG_STATE_HOME: 'RAW' } },
    { name: 'XDG_CACHE_HOME', args: ['agent', 'list'], env: { XDG_CACHE_HOME: 'RAW' } },
  ];

  it.each(cases)(
    'attack: $name naming /d/h\\xff is refused with one line naming it; no look-alike is made',
    ({ name, args, env }) => {
      const home = join(dir, `home-${name.replace(/\W/g, '')}`);
      const run = oacpRaw(args, { HOME: home, OACP_HOME: join(home, '.oacp'), ...env });
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(
        new RegExp(
          `^oacp: ${name} names \\S+/h\\uFFFD\\S*, which holds a byte that is not UTF-8 \\(read as U\\+FFFD\\), so OACP would use a look-alike directory instead of the one named; set ${name} to a directory whose path is UTF-8$`,
          'm',
        ),
      );
      expect(existsSync(join(dir, 'h\uFFFD'))).toBe(false);
      expect(existsSync(home)).toBe(false);
    },
  );

  it('attack (uid 1000): the same for an unprivileged user; an ordinary home still works', () => {
    const home = uid1000Home(dir);
    const refused = oacpRaw(['init'], { HOME: home, OACP_HOME: 'RAW' }, true);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^oacp: OACP_HOME names \S+\/h\uFFFD, which holds a byte that is not UTF-8/,
    );
    expect(existsSync(join(dir, 'h\uFFFD'))).toBe(false);
    const fine = oacpRaw(['init'], { HOME: home }, true);
    expect(fine.stderr).toBe('');
    expect(fine.code).toBe(0);
    expect(readdirSync(home)).toEqual(['.oacp']);
  });
});
