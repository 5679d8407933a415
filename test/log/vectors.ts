import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The shared conformance vectors live beside the repository: <repo>/../shared/vectors. */
export const VECTORS_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'vectors');

export function vectorsPresent(sub: string): boolean {
  return existsSync(join(VECTORS_DIR, sub));
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
