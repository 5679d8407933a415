import { GroupCommit } from '../../log/group-commit.js';
import type { BucketShape, QuotaBucketRow, TransactionRepos } from '../../store/types.js';

/** One bucket of a reservation. */
export interface Take {
  readonly key: string;
  readonly shape: BucketShape;
  readonly amount: number;
}

/** A reservation's answer: every take made, or the first one refused (and nothing taken). */
export type BatchResult<T extends Take = Take> =
  | { readonly taken: true }
  | { readonly taken: false; readonly refused: T; readonly row: QuotaBucketRow | undefined };

/** One bucket of a settlement: `delta` tokens back (negative: an overrun charged). */
export interface Move {
  readonly key: string;
  readonly shape: BucketShape;
  readonly delta: number;
}

/**
 * One item waiting for the next batch: a reservation (all its takes or none)
 * or a settlement (every move applied).
 */
type Pending =
  | { readonly kind: 'reserve'; readonly takes: readonly Take[]; readonly now: number }
  | { readonly kind: 'settle'; readonly moves: readonly Move[]; readonly now: number };

/** Most reservations in one transaction: bounds how long row locks are held and a failed batch's reach. */
const MAX_BATCH = 256;

/** Thrown inside a reservation's savepoint to roll back its takes; never leaves this file. */
class RollBack extends Error {
  constructor(readonly result: BatchResult & { taken: false }) {
    super('reservation refused');
  }
}

const byKey = (a: { readonly key: string }, b: { readonly key: string }): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : 0;

/**
 * Group commit (src/log/group-commit.ts) for quota reservations of one bucket
 * or several, and for the settlements that correct them: items that arrive
 * while a transaction is in flight wait, then all go in the next one, in the
 * order they were submitted. A settlement submitted before a reservation is
 * therefore applied before it: an overrun already reported (a model call that
 * used more than its estimate) is charged before the next call is admitted,
 * however slow the store is,
 * so N concurrent checks cost one commit (one fdatasync on SQLite, one COMMIT
 * round on PostgreSQL) instead of N. Each reservation runs in its own
 * SAVEPOINT: one refused take rolls back that reservation's other takes and
 * nothing else, so each stays all-or-none. Before any take, the batch creates
 * the rows it lacks and locks every row it will touch in key order
 * (PostgreSQL), so batches on several gateways cannot deadlock over them, new
 * buckets included. A failed transaction fails every
 * reservation (the engine refuses each: fail closed); answers go out only
 * after the commit, so a take never counts as made unless it is durable.
 */
export class QuotaBatches {
  readonly #commits: GroupCommit<Pending, BatchResult>;

  constructor(transaction: <T>(fn: (tx: TransactionRepos) => Promise<T>) => Promise<T>) {
    // The gather step waits one turn of the event loop (setImmediate), so requests arriving as
    // separate I/O callbacks of one poll phase (HTTP) share a transaction; one microtask gathered a
    // single caller per HTTP request. Later ones queue while the transaction's fdatasync runs (off
    // the event loop, src/store/wal-sync.ts) and go in the next.
    this.#commits = new GroupCommit(
      (batch) => transaction((tx) => runBatch(tx, batch)),
      MAX_BATCH,
      () => new Promise<void>((resolve) => setImmediate(resolve)),
    );
  }

  /** Takes every bucket of `takes` or none of them; a refusal names the caller's own take object. */
  reserve<T extends Take>(takes: readonly T[], now: number): Promise<BatchResult<T>> {
    // The refused take is one of `takes` (the same object), so the narrowing back to T is sound.
    return this.#commits.submit({ kind: 'reserve', takes: [...takes].sort(byKey), now }) as Promise<
      BatchResult<T>
    >;
  }

  /** Applies every move, in the queue's order: after each item submitted before it, before each one after. */
  async settle(moves: readonly Move[], now: number): Promise<void> {
    if (moves.length === 0) return;
    await this.#commits.submit({ kind: 'settle', moves: [...moves].sort(byKey), now });
  }

  /** How many transactions have run: a measure of batching. */
  get transactions(): number {
    return this.#commits.commitCount;
  }
}

/** One transaction: every reservation of the batch, each all-or-none in its own savepoint. */
async function runBatch(tx: TransactionRepos, batch: readonly Pending[]): Promise<BatchResult[]> {
  // One entry per key (the first take's shape: a key has one shape), created if missing, then locked.
  // A reservation's rows are created if missing; a settlement's are locked in the same key order
  // but never created (a settlement of a pruned row stays a no-op).
  const buckets = new Map<string, Take>();
  const settled = new Set<string>();
  for (const item of batch) {
    if (item.kind === 'reserve') {
      for (const take of item.takes) if (!buckets.has(take.key)) buckets.set(take.key, take);
    } else for (const move of item.moves) settled.add(move.key);
  }
  await tx.quotaBuckets.lockInOrder(
    [...buckets.values()],
    Math.min(...batch.map((item) => item.now)),
    [...settled].filter((key) => !buckets.has(key)),
  );
  const results: BatchResult[] = [];
  for (const item of batch) {
    if (item.kind === 'settle') {
      // A settlement cannot be refused: its moves apply whatever the level (an overrun may go below zero).
      for (const move of item.moves) await tx.quotaBuckets.adjust(move.key, move.delta, item.now);
      results.push({ taken: true });
      continue;
    }
    const takeAll = async (): Promise<BatchResult> => {
      for (const take of item.takes) {
        const { taken, row } = await tx.quotaBuckets.take(take.key, take.shape, take.amount, item.now);
        if (!taken) throw new RollBack({ taken: false, refused: take, row });
      }
      return { taken: true };
    };
    try {
      // One take is one atomic statement that changes nothing when refused: no savepoint needed.
      results.push(await (item.takes.length === 1 ? takeAll() : tx.savepoint(takeAll)));
    } catch (error) {
      // A refusal rolled back to the savepoint; any other error fails the whole transaction.
      if (!(error instanceof RollBack)) throw error;
      results.push(error.result);
    }
  }
  return results;
}
