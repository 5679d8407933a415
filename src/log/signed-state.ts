import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { logError } from './errors.js';
import { FileLock } from './file-lock.js';
import { HASH_SIZE } from './hash.js';
import { readSmallFile } from './small-file.js';

/**
 * The largest tree this log key has published, kept OUTSIDE the log directory, so that a
 * copy of the home (a restored backup, a cloned VM, `cp -a`) does not carry it along. A
 * node that finds its log smaller than this, or a different root at this size, was forked
 * or rolled back and refuses to start (LOG_FORK) instead of signing a second history.
 */
export interface SignedTree {
  readonly size: number;
  readonly root: Uint8Array;
}

const hash = z.string().refine((text) => decodeBase64(text)?.length === HASH_SIZE, 'a base64 SHA-256 hash');
const StateSchema = z.strictObject({
  version: z.literal(1),
  vkey: z.string(),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  root: hash,
});

/**
 * Where the state of the log with verifier key `vkey` lives: `$OACP_LOG_STATE_DIR`, else
 * `$XDG_STATE_HOME/oacp/logs`, else `/var/lib/oacp/logs` for root and
 * `~/.local/state/oacp/logs` for anyone else; one file per log key.
 */
export function signedStatePath(vkey: string, env: Readonly<Record<string, string | undefined>>): string {
  const dir =
    nonEmpty(env.OACP_LOG_STATE_DIR) ??
    (nonEmpty(env.XDG_STATE_HOME) !== undefined
      ? join(env.XDG_STATE_HOME as string, 'oacp', 'logs')
      : process.getuid?.() === 0
        ? '/var/lib/oacp/logs'
        : join(homedir(), '.local', 'state', 'oacp', 'logs'));
  return join(dir, `${createHash('sha256').update(vkey).digest('hex').slice(0, 32)}.json`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

export async function readSignedState(path: string, vkey: string): Promise<SignedTree | undefined> {
  const read = await readSmallFile(path);
  if (read.kind === 'absent') return undefined;
  if (read.kind === 'unreadable')
    throw logError(
      'LOG_SIGNED_STATE',
      `cannot read the log's signed-size state ${path}: ${read.reason}`,
      read.cause,
    );
  const text = read.text;
  const parsed = StateSchema.safeParse(safeJson(text));
  if (!parsed.success || parsed.data.vkey !== vkey) {
    // Forgetting it would let a rolled-back copy sign again: a damaged file stops the node.
    throw logError(
      'LOG_SIGNED_STATE',
      `the log's signed-size state ${path} is damaged or belongs to another key; restore it or remove it knowingly`,
    );
  }
  return { size: parsed.data.size, root: decodeBase64(parsed.data.root) ?? new Uint8Array() };
}

/** Durable (fsync, rename, fsync directory); the caller holds the publishing lock. */
export async function writeSignedState(path: string, vkey: string, tree: SignedTree): Promise<void> {
  const body = { version: 1, vkey, size: tree.size, root: encodeBase64(tree.root) };
  await writeFileAtomic(path, `${JSON.stringify(body, null, 2)}\n`, true);
}

/**
 * The state file's own lock (`<state>.lock`, beside it). Every copy of a home on this machine
 * shares the state file but has its own publishing lock: each reads the state, checks its
 * tree extends it, records the size it is about to sign and only then signs, all under this
 * lock, so two copies can never both sign one size (the second finds the first's root).
 */
export async function openSignedStateLock(path: string): Promise<FileLock> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (error) {
    throw logError(
      'LOG_SIGNED_STATE',
      `cannot create the directory of the log's signed-size state ${path}`,
      error,
    );
  }
  return FileLock.open(`${path}.lock`);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
