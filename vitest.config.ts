import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Removes the home-registry entries this run's scratch homes left (see the file).
    globalSetup: ['test/registry-cleanup.global.ts'],
    // Each test file's own OACP_LOG_STATE_DIR, not the host's /var/lib/oacp/logs (see the file).
    setupFiles: ['test/log-state.setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
