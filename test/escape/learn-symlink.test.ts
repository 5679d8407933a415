import { spawn } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { freshHome } from '../gateway/service/node-home.js';
import { ATTACKERS, CLI, isRoot, openDir, who } from './confine-harness.js';

/**
 * Issue 9 (host writes into grants): `oacp mcp run --learn` writes the manifest it learned when the
 * bridge ends, often into the project the server was granted `:rw`. A server that planted a symlink
 * under that name had the bridge, on the host and as its user (root too), write through it into a
 * file outside every grant (here a stand-in for /etc/passwd or ~/.bashrc). The learned manifest now
 * replaces whatever is there. Through the real CLI, hardened tier, as root and as uid 1000.
 */
const PLANTER = join(import.meta.dirname, 'fixtures', 'learn-planter.mjs');
const hardened = (await new HardenedTier().availability()).available;
const root = openDir('oacp-learn-symlink-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(!hardened)(
  '--learn writes its manifest beside a link the server planted, never through it',
  () => {
    for (const user of ATTACKERS) {
      it(`${who(user)}: the host file the link names is untouched`, { timeout: 120_000 }, async () => {
        const dir = join(root, user === undefined ? 'invoker' : 'uid1000');
        const project = join(dir, 'project');
        mkdirSync(project, { recursive: true, mode: 0o700 });
        const victim = join(dir, 'victim');
        writeFileSync(victim, 'precious\n', { mode: 0o644 });
        const { home, env } = await freshHome('oacp-learn-symlink-home-');
        try {
          if (user !== undefined) {
            for (const path of [
              dir,
              project,
              victim,
              home,
              ...readdirSync(home, { recursive: true }).map((p) => join(home, String(p))),
            ])
              chownSync(path, user.uid, user.gid);
          }
          const out = join(project, 'planter.learned.oacp.yaml');
          const args = [
            CLI,
            '--home',
            home,
            'mcp',
            'run',
            '--tier',
            'hardened',
            '--learn',
            '--learn-out',
            out,
            '--allow-files',
            `${project}:rw`,
            ...(user === undefined && isRoot ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io']),
            '--',
            process.execPath,
            PLANTER,
            out,
            victim,
          ];
          const [file = '', ...rest] =
            user === undefined
              ? [process.execPath, ...args]
              : [
                  '/usr/bin/setpriv',
                  `--reuid=${user.uid}`,
                  `--regid=${user.gid}`,
                  '--clear-groups',
                  process.execPath,
                  ...args,
                ];
          const child = spawn(file, rest, { env: { PATH: '/usr/bin:/bin', HOME: dir, ...env } });
          let stderr = '';
          child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
            stderr += chunk;
          });
          const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
          child.stdin.write(
            `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } })}\n`,
          );
          for (let i = 0; i < 600 && !/planted/.test(stderr); i++)
            await new Promise((r) => setTimeout(r, 50));
          child.stdin.end();
          await exited;
          expect(stderr).toMatch(/\] planted\n/);
          expect(stderr).toContain(`learned manifest written to ${out}`);
          expect(readFileSync(victim, 'utf8')).toBe('precious\n');
          expect(lstatSync(out).isFile()).toBe(true);
          expect(readFileSync(out, 'utf8')).toContain('Least-privilege manifest learned');
        } finally {
          rmSync(home, { recursive: true, force: true });
        }
      });
    }
  },
);
