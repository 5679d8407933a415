export { makeOwnedDir, OWNER_LOCK, type OwnedDir } from './owned-dir.js';
export { DIR_SWEEP_LIMIT, SANDBOX_DIR_PREFIXES, sweepStaleSandboxDirs } from './stale.js';
