import { createRequire } from 'node:module';

export type Yaml = typeof import('yaml');

const load = createRequire(import.meta.url);

/**
 * The YAML library, loaded at first use rather than when a module that may
 * parse YAML is imported: it costs tens of milliseconds of start-up (more
 * under load), and `oacp mcp run` reads no YAML at all unless the user gives
 * it a file (a manifest, `--learn`) or a catalog entry is not yet in the
 * home's parsed-entry cache. Node's module cache keeps the one instance.
 */
export function yaml(): Yaml {
  return load('yaml') as Yaml;
}
