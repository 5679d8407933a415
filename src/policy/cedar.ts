import { createRequire } from 'node:module';

export type Cedar = typeof import('@cedar-policy/cedar-wasm/nodejs');

const load = createRequire(import.meta.url);

/**
 * The Cedar engine (a 4 MB WebAssembly module compiled when it is first
 * loaded), loaded at first use rather than when a module that may use it is
 * imported: `oacp mcp run` answers initialize and tools/list without it, and
 * builds its default policy at the first call. Node's module cache keeps the
 * one instance; a module that cannot load throws, and every caller is a check
 * that turns that into a deny.
 */
export function cedar(): Cedar {
  return load('@cedar-policy/cedar-wasm/nodejs') as Cedar;
}
