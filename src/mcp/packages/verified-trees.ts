import { z } from 'zod';
import { JsonCacheFile } from '../json-cache-file.js';
import { treeDigest } from './tree-digest.js';
import { type TreeStamps, treeStamp } from './tree-stamp.js';

const VerifiedFileSchema = z.strictObject({
  version: z.literal(1),
  /** Tree digest -> the tree's stamp (treeStamp) taken when that digest was last computed in full. */
  trees: z.record(z.string().regex(/^[0-9a-f]{64}$/), z.string().regex(/^[0-9a-f]{64}$/)),
});

/**
 * The digest of a stored tree, computed in full only when its metadata
 * stamp changed since the last full digest. The stamps live in the home
 * (beside the package pins, which anyone able to rewrite them could
 * redirect anyway); an unreadable or malformed file means "digest in full".
 */
export class VerifiedTrees {
  readonly #cache: JsonCacheFile<typeof VerifiedFileSchema>;

  constructor(path: string) {
    this.#cache = new JsonCacheFile(path, VerifiedFileSchema, () => ({ version: 1 as const, trees: {} }));
  }

  /**
   * The tree's digest now: from the stamp when it is unchanged, else read and hashed in full.
   * `stamps`: one started earlier for this tree is used (see TreeStamps).
   */
  async digest(root: string, expected: string, stamps?: TreeStamps): Promise<string> {
    const file = this.#cache.read();
    const stamp = await (stamps?.take(root) ?? treeStamp(root));
    if (file.trees[expected] === stamp) return expected;
    const actual = treeDigest(root);
    // Record only a tree that is what it is named: a modified tree is digested in full every time.
    if (actual === expected) this.#cache.write({ version: 1, trees: { ...file.trees, [expected]: stamp } });
    return actual;
  }
}
