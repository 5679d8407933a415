import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';

/**
 * A small JSON cache file under the home, checked by its zod schema on every
 * read and replaced whole (a private temp file, then rename) on every write.
 * A cache is only ever a shortcut: a file that is missing, unreadable or
 * malformed reads as `empty` (the work is done in full), and a write that
 * fails is dropped (the next start does the work again).
 */
export class JsonCacheFile<S extends z.ZodType> {
  readonly #path: string;
  readonly #schema: S;
  readonly #empty: () => z.infer<S>;

  constructor(path: string, schema: S, empty: () => z.infer<S>) {
    this.#path = path;
    this.#schema = schema;
    this.#empty = empty;
  }

  read(): z.infer<S> {
    try {
      const parsed = this.#schema.safeParse(JSON.parse(readFileSync(this.#path, 'utf8')));
      if (parsed.success) return parsed.data;
    } catch {
      // Missing or unreadable: nothing is taken from it.
    }
    return this.#empty();
  }

  write(value: z.infer<S>): void {
    const temporary = `${this.#path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.#path), { recursive: true });
      writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
      renameSync(temporary, this.#path);
    } catch {
      // Only the next start's speed depends on it.
    }
  }
}
