import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * This test file's scratch directories (each file runs in a module graph of its own): helpers make
 * them here and test/scratch-dirs.setup.ts removes them after the file, so a full run leaves no
 * thousands of oacp-test-*, oacp-raw-*, oacp-mcp-log-* behind, whatever each test remembered to do.
 */
const made = new Set<string>();

/** A fresh directory under the temporary folder, removed after this test file at the latest. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes every scratch directory this file made; one still in use by a process that outlives the file is left. */
export function removeScratchDirs(): void {
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Still written to (ENOTEMPTY) or a mount point: left for the operating system's own cleanup.
    }
  }
  made.clear();
}
