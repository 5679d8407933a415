import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HARDENED_RUN_AS_UID1000, tempDir, uid1000Home } from '../cli/harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const REFUSAL = 'holds a byte that is not UTF-8 (read as U+FFFD)';
const SECRET = 'look-alike secret';

/**
 * Node decodes argv and YAML as UTF-8, so `--allow-files /d/a\xff` reached the grant as
 * `/d/a\uFFFD`: when a directory whose name really holds U+FFFD existed, it was granted and
 * bound instead of the one named. A grant path holding U+FFFD is now refused, naming the flag
 * or field (docs/hardened-tier.md), whether from the flag, a manifest or an oacp.yaml.
 */
describe('a grant path with a byte that is not UTF-8', () => {
  const dir = tempDir('oacp-non-utf8-');
  chmodSync(dir, 0o755);
  const lookAlike = join(dir, 'a\uFFFD');
  mkdirSync(lookAlike, { mode: 0o755 });
  writeFileSync(join(lookAlike, 'secret'), SECRET, { mode: 0o644 });
  // The directory the user meant: its name holds the byte 0xff.
  const meant = Buffer.concat([Buffer.from(`${dir}/a`), Buffer.from([0xff])]);
  mkdirSync(meant, { mode: 0o755 });
  // The look-alike of the script the user means to run (in the directory they meant).
  writeFileSync(join(lookAlike, 's.sh'), `#!/bin/sh\necho ${SECRET}\n`, { mode: 0o755 });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `oacp ARGS`, where the word GRANT becomes the raw bytes of `meant` (argv cannot carry them from node). */
  function oacpRaw(args: readonly string[], uid1000 = false, home?: string) {
    const words = args.map((arg, index) =>
      arg === 'GRANT'
        ? `"$(printf '%s/a\\377' "$DIR")"`
        : arg === 'SCRIPT'
          ? `"$(printf '%s/a\\377/s.sh' "$DIR")"`
          : `"$A${index}"`,
    );
    const prefix = uid1000 ? '/usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups ' : '';
    const env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', DIR: dir, ...(home ? { HOME: home } : {}) };
    args.forEach((arg, index) => {
      env[`A${index}`] = arg;
    });
    const run = spawnSync(
      '/bin/sh',
      ['-c', `exec ${prefix}"${process.execPath}" "${BIN}" ${words.join(' ')}`],
      {
        encoding: 'utf8',
        env,
        timeout: 60_000,
      },
    );
    return { code: run.status, stdout: run.stdout, stderr: run.stderr };
  }

  const catLookAlike = ['--', '/bin/cat', join(lookAlike, 'secret')];

  it('attack (root): oacp run --allow-files /d/a\\xff never grants /d/a\\uFFFD; it is refused naming the flag', () => {
    const run = oacpRaw([
      'run',
      '--no-receipt',
      '--tier',
      'hardened',
      '--allow-files',
      'GRANT',
      ...catLookAlike,
    ]);
    expect(run.stdout).not.toContain(SECRET);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^oacp: --allow-files \S+: holds a byte that is not UTF-8/m);
  });

  it('attack (uid 1000): the same as an unprivileged user', () => {
    const home = uid1000Home(dir);
    const run = oacpRaw(
      ['--home', join(home, '.oacp'), ...HARDENED_RUN_AS_UID1000, '--allow-files', 'GRANT', ...catLookAlike],
      true,
      home,
    );
    expect(run.stdout).not.toContain(SECRET);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`oacp: --allow-files`);
    expect(run.stderr).toContain(REFUSAL);
  });

  it('attack: oacp mcp run --allow-files /d/a\\xff is refused naming the flag', () => {
    const run = oacpRaw(['mcp', 'run', '--tier', 'hardened', '--allow-files', 'GRANT', '--', '/bin/true']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('oacp: --allow-files');
    expect(run.stderr).toContain(REFUSAL);
  });

  it("attack: a manifest's file_read and an oacp.yaml's allow_files holding the byte are refused naming the field (oacp run, config check, mcp run --config)", () => {
    const manifest = join(dir, 'manifest.yaml');
    writeFileSync(
      manifest,
      Buffer.concat([
        Buffer.from(
          'apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: m\ncapabilities:\n  file_read:\n    - ',
        ),
        meant,
        Buffer.from('\n'),
      ]),
    );
    const run = oacpRaw([
      'run',
      '--no-receipt',
      '--tier',
      'hardened',
      '--manifest',
      manifest,
      ...catLookAlike,
    ]);
    expect(run.stdout).not.toContain(SECRET);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`capabilities.file_read[0]: ${REFUSAL}`);

    const config = join(dir, 'oacp.yaml');
    writeFileSync(
      config,
      Buffer.concat([
        Buffer.from('mcp:\n  servers:\n    - name: raw\n      command: /bin/true\n      allow_files: ['),
        meant,
        Buffer.from(']\n'),
      ]),
    );
    for (const args of [
      ['config', 'check', config],
      ['mcp', 'run', '--config', config, '--', '/bin/true'],
    ]) {
      const refused = oacpRaw(args);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`mcp.servers[0].allow_files[0]: ${REFUSAL}`);
    }
  });

  it('attack: oacp run and oacp mcp run of /d/a\\xff/s.sh (as the command or an interpreter script) never run /d/a\\uFFFD/s.sh, implicitly granted; they are refused naming it', () => {
    for (const command of [['SCRIPT'], ['/bin/sh', 'SCRIPT']]) {
      const run = oacpRaw(['run', '--no-receipt', '--tier', 'hardened', '--', ...command]);
      expect(run.stdout).not.toContain(SECRET);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /^oacp: the command's (executable|script) \S+: holds a byte that is not UTF-8/m,
      );
    }
    const home = join(dir, 'mcp-home');
    expect(oacpRaw(['--home', home, 'init']).code).toBe(0);
    const mcp = oacpRaw(['--home', home, 'mcp', 'run', '--tier', 'hardened', '--', '/bin/sh', 'SCRIPT']);
    expect(mcp.stdout).not.toContain(SECRET);
    expect(mcp.code).toBe(2);
    expect(mcp.stderr).toContain(`oacp: the command's script`);
  });

  it('a path that really holds U+FFFD cannot be granted by name either (the two cannot be told apart)', () => {
    const run = oacpRaw([
      'run',
      '--no-receipt',
      '--tier',
      'hardened',
      '--allow-files',
      lookAlike,
      ...catLookAlike,
    ]);
    expect(run.stdout).not.toContain(SECRET);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(REFUSAL);
  });
});
