import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';

/**
 * Every test file gets its own directory for the logs' signed-size state (OACP_LOG_STATE_DIR,
 * src/log/signed-state.ts): run as root, a node opened with the process's environment, or a CLI
 * spawned with it, otherwise wrote the host's /var/lib/oacp/logs, one file per scratch key, left
 * behind by every run. An environment built from nothing takes it from logStateEnv (log-state.ts).
 * World-writable (sticky, as /tmp is) so a process a test starts as uid 1000 can keep its state there too.
 * Inside the run's directory (log-state.global.ts), removed after the run: vitest skips this
 * after-hook for a file whose tests are all skipped.
 */
const dir = mkdtempSync(join(inject('logStateRoot'), 'file-'));
chmodSync(dir, 0o1777);
const before = process.env.OACP_LOG_STATE_DIR;
process.env.OACP_LOG_STATE_DIR = dir;

afterAll(() => {
  if (before === undefined) delete process.env.OACP_LOG_STATE_DIR;
  else process.env.OACP_LOG_STATE_DIR = before;
  rmSync(dir, { recursive: true, force: true });
});
