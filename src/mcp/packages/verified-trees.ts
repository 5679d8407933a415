import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { treeDigest } from './tree-digest.js';
import { treeStamp } from './tree-stamp.js';

const VerifiedFileSchema = z.strictObject({
  version: z.literal(1),
  /** Tree digest -> the tree's stamp (treeStamp) taken when that digest was last computed in full. */
  trees: z.record(z.string().regex(/^[0-9a-f]{64}$/), z.string().regex(/^[0-9a-f]{64}$/)),
});
type VerifiedFile = z.infer<typeof VerifiedFileSchema>;

/**
 * The digest of a stored tree, computed in full only when its metadata
 * stamp changed since the last full digest. The stamps live in the home
 * (beside the package pins, which anyone able to rewrite them could
 * redirect anyway); an unreadable or malformed file means "digest in full".
 */
export class VerifiedTrees {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  /** The tree's digest now: from the stamp when it is unchanged, else read and hashed in full. */
  digest(root: string, expected: string): string {
    const file = this.#read();
    const stamp = treeStamp(root);
    if (file.trees[expected] === stamp) return expected;
    const actual = treeDigest(root);
    // Record only a tree that is what it is named: a modified tree is digested in full every time.
    if (actual === expected) this.#write({ version: 1, trees: { ...file.trees, [expected]: stamp } });
    return actual;
  }

  #read(): VerifiedFile {
    try {
      const parsed = VerifiedFileSchema.safeParse(JSON.parse(readFileSync(this.#path, 'utf8')));
      if (parsed.success) return parsed.data;
    } catch {
      // Missing or unreadable: nothing is taken on trust.
    }
    return { version: 1, trees: {} };
  }

  #write(file: VerifiedFile): void {
    const temporary = `${this.#path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.#path), { recursive: true });
      writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      renameSync(temporary, this.#path);
    } catch {
      // A cache that cannot be written only costs the next start a full digest.
    }
  }
}
