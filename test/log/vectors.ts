import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Conformance vectors copied from shared/vectors into the repository, so these tests never skip. */
export const VECTORS_DIR = join(import.meta.dirname, '..', 'fixtures', 'vectors');

/** Fails loudly when a vector folder is missing: a conformance test must never skip. */
export function requireVectors(sub: string): string {
  const path = join(VECTORS_DIR, sub);
  if (!existsSync(path)) throw new Error(`conformance vectors missing: ${path}`);
  return path;
}

/** Every JSON file under `sub`, as [path relative to the vectors dir, parsed value]. */
export function jsonVectors(sub: string): Array<[string, unknown]> {
  const root = join(VECTORS_DIR, sub);
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return walk(path);
      return path.endsWith('.json') ? [path] : [];
    });
  return walk(root)
    .sort()
    .map((path): [string, unknown] => [relative(VECTORS_DIR, path), JSON.parse(readFileSync(path, 'utf8'))]);
}
