// Starts a guest thread from the TypeScript sources (tests, the bench): tsx
// compiles guest-worker.ts as it loads. Built code starts guest-worker.js.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./guest-worker.ts', import.meta.url).href);
