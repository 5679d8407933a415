import { join } from 'node:path';
import { FileLock } from './file-lock.js';
import { MerkleTree } from './merkle-tree.js';
import { checkExtends, type PublishedCheckpoint, readPublished } from './published-checkpoint.js';
import { readSignedState, type SignedTree } from './signed-state.js';
import { checkTiles, type TileProblem } from './tile-check.js';
import { writeTiles } from './tile-writer.js';
import { CHECKPOINT_FILE, LOCK_FILE, PUBLISH_LOCK_FILE, WAL_FILE } from './transparency-log.js';
import { type WalTail, WriteAheadLog } from './wal.js';
import { rebuildWalFromTiles } from './wal-rebuild.js';

export interface FsckOptions {
  readonly origin: string;
  readonly vkey: string;
  readonly stateFile?: string;
}

/** What `oacp log fsck` found; `ok` only when every check passed. */
export interface FsckReport {
  readonly ok: boolean;
  readonly walRecords: number;
  readonly walTail: WalTail;
  readonly checkpointSize: number | undefined;
  readonly signedStateSize: number | undefined;
  readonly tiles: TileProblem | undefined;
  readonly problems: readonly string[];
}

/** Checks everything, changes nothing: records, checkpoint, outside state, every tile and bundle (deep). */
export async function fsckLog(dir: string, options: FsckOptions): Promise<FsckReport> {
  const problems: string[] = [];
  const published = await attempt(problems, () => readPublished(join(dir, CHECKPOINT_FILE), options.vkey));
  const state =
    options.stateFile === undefined
      ? undefined
      : await attempt(problems, () => readSignedState(options.stateFile as string, options.vkey));
  const tree = new MerkleTree();
  const wal = await WriteAheadLog.open(join(dir, WAL_FILE), options.origin, false);
  try {
    const walTail = await wal.catchUp((hash) => tree.push(hash));
    if (walTail.kind === 'corrupt')
      problems.push(
        `log.wal record ${walTail.record} (byte ${walTail.offset}) is damaged: ${walTail.reason}`,
      );
    if (walTail.kind === 'torn')
      problems.push(`log.wal ends in a torn record of ${walTail.bytes} bytes at byte ${walTail.offset}`);
    check(problems, () => published && checkExtends(tree, published, 'the checkpoint', 'LOG_CORRUPT'));
    check(problems, () => state && checkExtends(tree, state, 'the signed-size state', 'LOG_FORK'));
    const size = Math.min(published?.size ?? 0, tree.size);
    const tiles = await checkTiles(dir, { tree, entryLength: (i) => wal.entryLength(i) }, size, true);
    if (tiles !== undefined) problems.push(`${tiles.path} is ${tiles.reason}`);
    return {
      ok: problems.length === 0,
      walRecords: tree.size,
      walTail,
      checkpointSize: published?.size,
      signedStateSize: state?.size,
      tiles,
      problems,
    };
  } finally {
    await wal.close();
  }
}

/**
 * Repairs what can be proven: tiles rewritten from a verified write-ahead log, or the
 * write-ahead log rebuilt from tiles that hash to the signed checkpoint (the damaged file
 * is kept beside it). Never signs, never shrinks a signed tree: if neither copy holds
 * every entry of the largest signed tree, it refuses with LOG_CORRUPT.
 */
export async function repairLog(dir: string, options: FsckOptions): Promise<string[]> {
  const sequencer = await FileLock.open(join(dir, LOCK_FILE));
  const publisher = await FileLock.open(join(dir, PUBLISH_LOCK_FILE));
  try {
    return await sequencer.with(() => publisher.with(() => repairLocked(dir, options)));
  } finally {
    await sequencer.close();
    await publisher.close();
  }
}

async function repairLocked(dir: string, options: FsckOptions): Promise<string[]> {
  const published = await readPublished(join(dir, CHECKPOINT_FILE), options.vkey);
  const state =
    options.stateFile === undefined ? undefined : await readSignedState(options.stateFile, options.vkey);
  const signed: SignedTree = (state?.size ?? 0) > published.size && state !== undefined ? state : published;
  const actions: string[] = [];
  const tree = new MerkleTree();
  const wal = await WriteAheadLog.open(join(dir, WAL_FILE), options.origin, true);
  let walGood = false;
  try {
    const tail = await wal.catchUp((hash) => tree.push(hash));
    if (tail.kind === 'torn') {
      await wal.cutTornTail(tail);
      actions.push(`moved a torn tail of ${tail.bytes} bytes aside to log.wal.torn-${tail.offset}`);
    }
    walGood =
      tail.kind !== 'corrupt' &&
      tree.size >= signed.size &&
      matches(tree, published) &&
      matches(tree, signed);
    if (walGood) {
      const size = published.size;
      const problem = await checkTiles(dir, { tree, entryLength: (i) => wal.entryLength(i) }, size, true);
      if (problem !== undefined) {
        await writeTiles(dir, tree, (start, end) => wal.readEntries(start, end), 0, size);
        actions.push(
          `rewrote the tiles and bundles of the ${size}-entry checkpoint from log.wal (${problem.path} was ${problem.reason})`,
        );
      }
    }
  } finally {
    await wal.close();
  }
  if (!walGood) actions.push(...(await rebuildWalFromTiles(dir, options.origin, published, signed)));
  return actions;
}

function matches(tree: MerkleTree, signed: SignedTree | PublishedCheckpoint): boolean {
  try {
    checkExtends(tree, signed, 'signed tree', 'LOG_CORRUPT');
    return true;
  } catch {
    return false;
  }
}

async function attempt<T>(problems: string[], run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    problems.push((error as Error).message);
    return undefined;
  }
}

function check(problems: string[], run: () => unknown): void {
  try {
    run();
  } catch (error) {
    problems.push((error as Error).message);
  }
}
