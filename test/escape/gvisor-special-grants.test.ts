import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { oacpCli, openDir } from './confine-harness.js';

/**
 * A grant of a FIFO or a Unix socket file (which a workload can plant in a
 * writable grant for the next run to be given) made runsc fail with its own
 * mount error after the sandbox was set up ("running container: ... failed to
 * mount ... operation not permitted", exit 128). Now refused before, naming
 * the grant and what to do instead.
 */
const available = (await new GvisorTier().availability()).available;

describe.skipIf(!available)('gvisor grants of special files', () => {
  const root = openDir('oacp-gvisor-special-');
  const fifo = join(root, 'fifo');
  const socket = join(root, 'socket');
  let server: Server | undefined;

  beforeAll(async () => {
    execFileSync('mkfifo', [fifo]);
    server = createServer();
    await new Promise<void>((resolve) => server?.listen(socket, resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    rmSync(root, { recursive: true, force: true });
  });

  for (const [name, path, kind] of [
    ['a FIFO', fifo, /is a FIFO/],
    ['a Unix socket', socket, /is a Unix socket/],
  ] as const) {
    it(`refuses ${name} by name before runsc starts`, async () => {
      const result = await oacpCli(['run', '--tier', 'gvisor', '--allow-files', path, '--', '/bin/true']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(kind);
      expect(result.stderr).toMatch(/--tier hardened/);
      expect(result.stderr).not.toMatch(/running container|failed to mount/);
    });
  }
});
