import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withLogState } from '../log-state.js';
import { RAW_SERVER } from '../mcp/raw-harness.js';
import { HARDENED_RUN_AS_UID1000, tempDir } from './harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

/** The built binary started in `cwd` (as uid 1000 with `home` as HOME when given): a relative grant is the invoker's. */
function oacpIn(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv, asUid1000?: string) {
  const result =
    asUid1000 === undefined
      ? spawnSync(process.execPath, [BIN, ...args], {
          cwd,
          encoding: 'utf8',
          env: withLogState({ PATH: process.env.PATH, ...env }),
          input: '',
          timeout: 60_000,
        })
      : spawnSync(
          '/usr/bin/setpriv',
          ['--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, BIN, ...args],
          {
            cwd,
            encoding: 'utf8',
            env: { PATH: '/usr/bin:/bin', HOME: asUid1000, ...env },
            input: '',
            timeout: 60_000,
          },
        );
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * `--allow-files ./data:rw` or `data` was refused ("must be an absolute path"), so a user had to spell out
 * `$PWD/data`. A relative grant is now resolved against the invoker's folder when the flags are parsed,
 * then opened, checked and bound by the same code as any absolute grant: the OACP home is still refused,
 * a missing path is refused by its absolute name, and an empty path or `~` is never taken as the folder.
 */
describe('--allow-files with a relative path', () => {
  const dir = tempDir('oacp-relative-grant-');
  const home = join(dir, 'home');
  const data = join(dir, 'data');
  beforeAll(() => {
    chmodSync(dir, 0o755);
    mkdirSync(data);
    chmodSync(data, 0o700);
    expect(oacpIn(dir, ['init'], { OACP_HOME: home }).code).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('oacp run --allow-files ./data:rw grants the invoker’s ./data, writable, at its absolute path', () => {
    const run = oacpIn(
      dir,
      [
        'run',
        '--no-receipt',
        '--tier',
        'hardened',
        '--allow-files',
        './data:rw',
        '--',
        '/bin/sh',
        '-c',
        `echo hi > ${data}/f`,
      ],
      { OACP_HOME: home },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(readFileSync(join(data, 'f'), 'utf8')).toBe('hi\n');
  });

  it('oacp mcp run --allow-files data:rw names the resolved absolute grant in its first line', () => {
    const mcp = oacpIn(
      dir,
      ['mcp', 'run', '--tier', 'light', '--allow-files', 'data:rw', '--', process.execPath, RAW_SERVER],
      { OACP_HOME: home },
    );
    const first = mcp.stderr.split('\n').find((line) => line.startsWith('oacp: MCP bridge for'));
    expect(first).toBe(
      `oacp: MCP bridge for raw-server: tier light, home ${home}, log ${join(home, 'log')}, files ${data}:rw`,
    );
  });

  it('attack: a relative grant naming the OACP home (`.` inside it, `../home`) is refused as the absolute one is', () => {
    for (const [cwd, grant] of [
      [home, '.:rw'],
      [data, '../home'],
    ] as const) {
      const run = oacpIn(
        cwd,
        ['run', '--no-receipt', '--tier', 'hardened', '--allow-files', grant, '--', '/bin/true'],
        {
          OACP_HOME: home,
        },
      );
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`grant ${home} overlaps the OACP home ${home}`);
    }
  });

  it('attack: a mistyped relative grant is refused by its absolute name; `:rw` and `~/x` never grant the folder', () => {
    const typo = oacpIn(
      dir,
      ['run', '--no-receipt', '--tier', 'hardened', '--allow-files', 'dta:rw', '--', '/bin/true'],
      {
        OACP_HOME: home,
      },
    );
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(`--allow-files ${join(dir, 'dta')}: no such file or directory; refused`);
    for (const grant of [':rw', '~/data']) {
      for (const command of [
        ['run', '--no-receipt'],
        ['mcp', 'run'],
      ]) {
        const refused = oacpIn(dir, [...command, '--allow-files', grant, '--', '/bin/true'], {
          OACP_HOME: home,
        });
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain('must be an absolute path');
      }
    }
  });

  it('as uid 1000: ./data:rw from its own folder is granted writable', () => {
    const own = join(dir, 'uid1000');
    const home1000 = join(own, 'home');
    mkdirSync(join(own, 'data'), { recursive: true });
    mkdirSync(home1000);
    for (const path of [own, join(own, 'data'), home1000]) chownSync(path, 1000, 1000);
    const run = oacpIn(
      own,
      [
        ...HARDENED_RUN_AS_UID1000,
        '--allow-unenforced',
        'disk_io',
        '--allow-files',
        './data:rw',
        '--',
        '/bin/sh',
        '-c',
        `echo me > ${own}/data/g`,
      ],
      {},
      home1000,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(readFileSync(join(own, 'data', 'g'), 'utf8')).toBe('me\n');
  });
});
