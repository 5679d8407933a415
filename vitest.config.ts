import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Removes the home-registry entries this run's scratch homes left (see the file).
    // The run's directory of the files' OACP_LOG_STATE_DIRs, removed after the run (see the file).
    globalSetup: ['test/registry-cleanup.global.ts', 'test/log-state.global.ts'],
    // Each test file's own OACP_LOG_STATE_DIR, not the host's /var/lib/oacp/logs (see the file).
    // and the scratch directories test helpers made (test/scratch-dirs.ts), removed after each file.
    setupFiles: ['test/log-state.setup.ts', 'test/scratch-dirs.setup.ts'],
    testTimeout: 30_000,
    // expect.poll's own default (1 s) is shorter than a sandbox start or a store write takes on a loaded
    // 2-core host; a poll waits for a condition, so a generous bound costs nothing when the host is idle.
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
