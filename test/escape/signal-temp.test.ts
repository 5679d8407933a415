import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { RAW_SERVER } from '../mcp/raw-harness.js';
import { CLI, isRoot, openDir, REGULAR_USER } from './confine-harness.js';

/**
 * Round 24: what `oacp mcp run` makes in TMPDIR for its sandbox (the per-sandbox directory, and
 * for a user without a safe launcher cache the launcher's private build) is gone when it is
 * stopped by SIGTERM or SIGINT, as uid 1000 with a read-only home (no launcher cache).
 */
const available = (await new HardenedTier().availability()).available;

describe.skipIf(!isRoot || !available)('oacp mcp run stopped by a signal', () => {
  const root = openDir('oacp-test-signal-temp-');
  const own = (path: string, mode: number): string => {
    mkdirSync(path, { recursive: true });
    execFileSync('chown', [`${REGULAR_USER.uid}:${REGULAR_USER.gid}`, path]);
    chmodSync(path, mode);
    return path;
  };
  const server = join(root, 'raw-server.mjs');
  copyFileSync(RAW_SERVER, server);
  chmodSync(server, 0o644);
  const home = own(join(root, 'read-only-home'), 0o555);
  const oacpHome = join(own(join(root, 'oacp'), 0o700), 'home');
  const asUser = [
    '/usr/bin/setpriv',
    `--reuid=${REGULAR_USER.uid}`,
    `--regid=${REGULAR_USER.gid}`,
    '--clear-groups',
  ];
  const env = (tmp: string): NodeJS.ProcessEnv => ({
    PATH: '/usr/bin:/bin',
    HOME: home,
    TMPDIR: tmp,
    OACP_HOME: oacpHome,
    OACP_LOG_STATE_DIR: process.env.OACP_LOG_STATE_DIR,
  });
  execFileSync(asUser[0] ?? '', [...asUser.slice(1), process.execPath, CLI, 'init'], { env: env(root) });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: nothing it made is left in TMPDIR`, async () => {
      const tmp = own(join(root, `tmp-${signal}`), 0o755);
      const child = spawn(
        asUser[0] ?? '',
        [
          ...asUser.slice(1),
          process.execPath,
          CLI,
          'mcp',
          'run',
          '--allow-unenforced',
          'memory,pids,cpu,disk_io',
          '--tier',
          'hardened',
          // With egress the sandbox has a per-sandbox directory (the proxy's socket).
          '--allow-network',
          'example.com',
          '--',
          process.execPath,
          server,
        ],
        { env: env(tmp), stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
      // The sandbox is up: its directory and the launcher's private build are there.
      await expect
        .poll(() => readdirSync(tmp).map((name) => name.replace(/-[^-]*$/, '')), { timeout: 120_000 })
        .toEqual(expect.arrayContaining(['oacp-hardened', 'oacp-launcher']));
      // setpriv execs node: the child's pid is oacp's.
      child.kill(signal);
      await closed;
      expect({ left: readdirSync(tmp), stderr }).toEqual({ left: [], stderr: expect.any(String) });
    }, 300_000);
  }
});
