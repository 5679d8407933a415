import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's directory that holds each test file's OACP_LOG_STATE_DIR (log-state.setup.ts). */
    logStateRoot: string;
  }
}

/**
 * One directory for the run, holding each test file's signed-size state directory. A file removes
 * its own after its tests, but vitest runs no after-hook of a file whose tests are all skipped
 * (skipIf on a host without runsc, a filter, a non-root run): those were left in the temporary
 * folder, hundreds a day. The run's directory goes after the run, whatever each file did.
 */
export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(join(tmpdir(), 'oacp-log-state-'));
  // Traversable by a process a test starts as another user (its file's directory is world-writable).
  chmodSync(root, 0o711);
  project.provide('logStateRoot', root);
  return () => {
    rmSync(root, { recursive: true, force: true });
  };
}
