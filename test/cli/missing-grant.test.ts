import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger } from '../../src/gateway/observability/logger.js';
import { startGateway } from '../gateway/service/harness.js';
import { RAW_SERVER } from '../mcp/raw-harness.js';
import { HARDENED_RUN_AS_UID1000, oacp, oacpAsUid1000, tempDir, uid1000Home } from './harness.js';

const refusal = (path: string) =>
  `oacp: --allow-files ${path}: no such file or directory; refused (create it first, or leave the grant out)`;

/**
 * A confined sandbox skips a granted path that does not exist (docs/hardened-tier.md): a user's
 * mistyped `--allow-files` started the workload without the grant and without a word, in both
 * `oacp run` and `oacp mcp run`, then with only a note. The user's own flags now stop the run
 * (exit 2, one line each); a path a manifest grants (which may be optional) does not, and an
 * oacp.yaml's `allow_files` (a deployment, whose servers start again later) is warned about.
 */
describe('--allow-files naming a path that does not exist', () => {
  const dir = tempDir('oacp-missing-grant-');
  chmodSync(dir, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('attack: oacp run --allow-files /typo:rw and /gone/** would start the workload with nothing granted: the run is refused, each named on stderr, the existing grant not', async () => {
    const typo = join(dir, 'typo');
    const gone = join(dir, 'gone');
    const run = await oacp([
      'run',
      '--no-receipt',
      '--tier',
      'hardened',
      '--allow-files',
      `${typo}:rw`,
      '--allow-files',
      `${gone}/**`,
      '--allow-files',
      dir,
      '--',
      '/bin/echo',
      'workload ran',
    ]);
    expect(run.code).toBe(2);
    expect(run.stdout).not.toContain('workload ran');
    expect(run.stderr.split('\n').filter((line) => line.startsWith('oacp: --allow-files'))).toEqual([
      refusal(typo),
      refusal(`${gone}/**`),
    ]);
    const kept = await oacp([
      'run',
      '--no-receipt',
      '--tier',
      'hardened',
      '--allow-files',
      dir,
      '--',
      '/bin/true',
    ]);
    expect(kept.code).toBe(0);
  });

  it("attack: oacp mcp run --allow-files /typo is refused before the server starts; a manifest's missing path is not named", async () => {
    const typo = join(dir, 'typo-mcp');
    const optional = join(dir, 'optional-cache');
    const manifest = join(dir, 'manifest.yaml');
    writeFileSync(
      manifest,
      `apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: m\ncapabilities:\n  file_read:\n    - ${optional}\n`,
    );
    const mcp = await oacp([
      'mcp',
      'run',
      '--tier',
      'hardened',
      '--manifest',
      manifest,
      '--allow-files',
      typo,
      '--',
      '/bin/true',
    ]);
    expect(mcp.code).toBe(2);
    expect(mcp.stderr).toContain(refusal(typo));
    expect(mcp.stderr).not.toContain(optional);
  });

  it("attack: oacp.yaml's allow_files naming a path that does not exist: `oacp mcp run --config` names the file, the server and the field; an existing grant is not named", async () => {
    const config = join(dir, 'oacp.yaml');
    writeFileSync(
      config,
      [
        'mcp:',
        '  servers:',
        '    - name: raw',
        `      command: ${process.execPath}`,
        `      args: [${RAW_SERVER}]`,
        '      tier: light',
        `      allow_files: ["./typo-config:rw", "${dir}"]`,
        '',
      ].join('\n'),
    );
    const mcp = await oacp(['mcp', 'run', '--config', config], { OACP_HOME: join(dir, 'home-config') });
    const lines = mcp.stderr.split('\n').filter((line) => line.includes('no such file or directory'));
    expect(lines).toEqual([
      `oacp: ${config}: mcp.servers.raw.allow_files ${join(dir, 'typo-config')}: no such file or directory; nothing is granted`,
    ]);
  });

  it("attack: the gateway's oacp.yaml allow_files naming a missing path is warned about before its server starts", async () => {
    const warned: string[] = [];
    const collect = (line: string) => {
      const { level, msg } = JSON.parse(line) as { level: string; msg: string };
      if (level === 'warn') warned.push(msg);
    };
    const gateway = await startGateway({
      config: {
        mcp: {
          servers: [
            {
              name: 'raw',
              command: process.execPath,
              args: [RAW_SERVER],
              tier: 'light',
              allow_files: [join(dir, 'typo-gateway/**')],
            },
          ],
        },
      },
      logger: new Logger(collect, 'warn'),
    });
    await gateway.close();
    expect(warned).toEqual([
      `oacp: oacp.yaml: mcp.servers.raw.allow_files ${join(dir, 'typo-gateway')}/**: no such file or directory; nothing is granted`,
    ]);
  });

  it('as uid 1000: a missing path under its own home is refused; one it cannot look into is left to the sandbox', () => {
    const home = uid1000Home(dir);
    const closed = join(dir, 'closed');
    mkdirSync(closed);
    chmodSync(closed, 0o700);
    const run = oacpAsUid1000(
      [
        'run',
        '--no-receipt',
        '--tier',
        'hardened',
        '--allow-files',
        join(home, 'nope'),
        '--allow-files',
        join(closed, 'unknown'),
        '--',
        '/bin/true',
      ],
      home,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(refusal(join(home, 'nope')));
    expect(run.stderr).not.toContain(join(closed, 'unknown'));
    const left = oacpAsUid1000(
      [...HARDENED_RUN_AS_UID1000, '--allow-files', join(closed, 'unknown'), '--', '/bin/true'],
      home,
    );
    expect(left.stderr).not.toContain('no such file or directory');
    expect(left.code).toBe(0);
  });
});
