import { afterAll } from 'vitest';
import { removeScratchDirs } from './scratch-dirs.js';

// Registered before any test file's own hooks: run after them (vitest runs after-hooks in reverse), once
// the file's servers and sandboxes are closed.
afterAll(removeScratchDirs);
