import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { logError } from './errors.js';
import { HASH_SIZE } from './hash.js';

/** What a witness remembers per log: the latest checkpoint it cosigned. */
export interface WitnessedTree {
  readonly size: number;
  readonly root: Uint8Array;
}

const hash = z.string().refine((text) => decodeBase64(text)?.length === HASH_SIZE, 'a base64 SHA-256 hash');
const StateSchema = z
  .object({
    version: z.literal(1),
    logs: z.record(
      z.string(),
      z.object({ size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), root: hash }).strict(),
    ),
  })
  .strict();

/** Reads the witness state file; a missing file is a witness that has cosigned nothing yet. */
export async function readWitnessState(path: string): Promise<Map<string, WitnessedTree>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw logError('LOG_WITNESS_STATE', `cannot read the witness state ${path}`, error);
  }
  let parsed: z.infer<typeof StateSchema>;
  try {
    parsed = StateSchema.parse(JSON.parse(text));
  } catch (error) {
    // Starting afresh would let the witness cosign a rollback, so a damaged file stops it.
    throw logError(
      'LOG_WITNESS_STATE',
      `the witness state ${path} is damaged; restore it from a backup`,
      error,
    );
  }
  const state = new Map<string, WitnessedTree>();
  for (const [origin, tree] of Object.entries(parsed.logs)) {
    state.set(origin, { size: tree.size, root: decodeBase64(tree.root) ?? new Uint8Array() });
  }
  return state;
}

/** Writes the state durably (fsync, rename, fsync directory) before any cosignature leaves. */
export async function writeWitnessState(
  path: string,
  state: ReadonlyMap<string, WitnessedTree>,
): Promise<void> {
  const logs: Record<string, { size: number; root: string }> = {};
  for (const [origin, tree] of [...state.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    logs[origin] = { size: tree.size, root: encodeBase64(tree.root) };
  }
  await writeFileAtomic(path, `${JSON.stringify({ version: 1, logs }, null, 2)}\n`, true);
}
