import type { DialectName } from './dialect.js';
import type { Sql } from './sql.js';

/**
 * Rows as the gateway reads and writes them. The store knows nothing of
 * manifests, lifecycles or cryptography: JSON arrives as text, secrets arrive
 * already encrypted, states are strings the gateway validates.
 * Times are ISO-8601 strings.
 */

export interface AgentRow {
  /** did:key of the agent's Ed25519 identity. */
  readonly id: string;
  readonly name: string;
  /** The effective capability manifest, JSON. */
  readonly manifest: string;
  readonly state: string;
  readonly parentId: string | null;
  /** The private key sealed under the master key, JSON (identity's SealedKey). */
  readonly sealedKey: string;
  readonly code: string | null;
  /**
   * JSON object of string | number | boolean attributes (what policies read
   * as principal.<name>); '{}' when not given at insert.
   */
  readonly attributes?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An agent row as read back: attributes always present. */
export interface StoredAgentRow extends AgentRow {
  readonly attributes: string;
}

export interface AgentRepo {
  /** Throws STORE_CONFLICT when the id or the name exists. */
  insert(row: AgentRow): Promise<void>;
  get(id: string): Promise<StoredAgentRow | undefined>;
  /** Names are unique (schema version 2). */
  getByName(name: string): Promise<StoredAgentRow | undefined>;
  list(filter?: { readonly state?: string; readonly parentId?: string }): Promise<StoredAgentRow[]>;
  /** Compare-and-set: changes the state only if it still is `from`; false otherwise. */
  setState(id: string, from: string, to: string, at: string): Promise<boolean>;
}

export interface PartitionRow {
  readonly agentId: string;
  /** null once destroyed: without the salt the partition key cannot be derived again. */
  readonly salt: Uint8Array | null;
  readonly usedBytes: number;
  readonly createdAt: string;
  readonly destroyedAt: string | null;
}

export interface ContextEntryRow {
  readonly agentId: string;
  readonly key: string;
  readonly nonce: Uint8Array;
  /** AES-GCM ciphertext with its 16-byte tag appended. */
  readonly ciphertext: Uint8Array;
  /** Plaintext bytes, what the partition quota counts. */
  readonly size: number;
  readonly updatedAt: string;
}

export interface ContextRepo {
  createPartition(agentId: string, salt: Uint8Array, at: string): Promise<void>;
  /** With `lock`, the row stays locked (PostgreSQL) until the transaction ends; use inside transaction(). */
  partition(agentId: string, options?: { readonly lock?: boolean }): Promise<PartitionRow | undefined>;
  setUsedBytes(agentId: string, usedBytes: number): Promise<void>;
  /** Forgets the salt and deletes every entry; false if there was no live partition. */
  destroyPartition(agentId: string, at: string): Promise<boolean>;
  get(agentId: string, key: string): Promise<ContextEntryRow | undefined>;
  /** Inserts or replaces. */
  put(row: ContextEntryRow): Promise<void>;
  delete(agentId: string, key: string): Promise<boolean>;
  keys(
    agentId: string,
  ): Promise<{ readonly key: string; readonly size: number; readonly updatedAt: string }[]>;
}

export interface CheckpointRow {
  readonly agentId: string;
  readonly seq: number;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly createdAt: string;
}

export interface CheckpointRepo {
  /** Stores the next checkpoint (seq = previous + 1) and returns its seq. */
  append(agentId: string, nonce: Uint8Array, ciphertext: Uint8Array, at: string): Promise<number>;
  latest(agentId: string): Promise<CheckpointRow | undefined>;
  deleteAll(agentId: string): Promise<number>;
}

export interface AccessLogRow {
  readonly at: string;
  readonly agentId: string;
  readonly key: string;
  readonly op: string;
  readonly bytes: number;
  readonly outcome: string;
  readonly actor: string | null;
}

export interface AccessLogRepo {
  append(row: AccessLogRow): Promise<void>;
  /** Oldest first; `afterId` pages forward. */
  list(filter?: {
    readonly agentId?: string;
    readonly afterId?: number;
    readonly limit?: number;
  }): Promise<(AccessLogRow & { readonly id: number })[]>;
}

export interface CredentialRow {
  readonly name: string;
  readonly agentId: string;
  /** A tool name, or a prefix pattern ending in `*`. */
  readonly tool: string;
  readonly injectKind: string;
  readonly injectName: string;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface CredentialRepo {
  /** Inserts or replaces the credential with the same (name, agentId, tool). */
  upsert(row: CredentialRow): Promise<void>;
  forAgent(agentId: string): Promise<CredentialRow[]>;
  list(): Promise<CredentialRow[]>;
  delete(name: string, agentId: string, tool: string): Promise<boolean>;
}

export interface ApiKeyRow {
  readonly id: string;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
  /** JSON array of scope strings. */
  readonly scopes: string;
  readonly label: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  /** The agent (did:key) the key acts as, or null for an operator's key. */
  readonly agentId: string | null;
}

export interface ApiKeyRepo {
  insert(row: ApiKeyRow): Promise<void>;
  get(id: string): Promise<ApiKeyRow | undefined>;
  list(): Promise<ApiKeyRow[]>;
  /** False when the key does not exist or was already revoked. */
  revoke(id: string, at: string): Promise<boolean>;
}

/**
 * How a token bucket fills: `capacity` tokens at most, `refill` tokens per
 * `windowMs` milliseconds, continuously. Kept as a ratio (not a per-ms rate)
 * so whole windows refill exact whole tokens: 4 per hour gives back exactly 1
 * after 900 000 ms, not 0.9999999.
 */
export interface BucketShape {
  readonly capacity: number;
  readonly refill: number;
  readonly windowMs: number;
}

export interface QuotaBucketRow extends BucketShape {
  readonly key: string;
  /** The level at `updatedAt`; negative is a debt (more was settled than reserved). */
  readonly tokens: number;
  /** Milliseconds since the epoch. */
  readonly updatedAt: number;
  /** Tokens taken over the bucket's life, refunds subtracted. */
  readonly used: number;
  /** Takes refused. */
  readonly refused: number;
}

export interface QuotaBucketRepo {
  /**
   * Refills the bucket to `now` (creating it full with `shape` if new, and
   * adopting `shape` if it changed) and takes `amount` only if that many
   * tokens are there, as one atomic statement: concurrent callers, even
   * gateway processes sharing PostgreSQL, never take more than the bucket
   * holds together. A refusal takes nothing and counts in `refused`.
   */
  take(
    key: string,
    shape: BucketShape,
    amount: number,
    now: number,
  ): Promise<{ readonly taken: boolean; readonly row: QuotaBucketRow | undefined }>;
  /** Counts one refusal (for the usage view). */
  noteRefusal(key: string): Promise<void>;
  /** Puts `delta` tokens back (negative: takes more, into debt if need be), never above capacity. */
  adjust(key: string, delta: number, now: number): Promise<void>;
  /**
   * Deletes buckets that are full at `now` and were last changed at least
   * `idleMs` before it: a full bucket is what `take` creates for a missing
   * key, so the limit is unchanged. A reservation still open on a deleted
   * row settles as a no-op: it is never credited back. Returns the count.
   */
  prune(now: number, idleMs: number): Promise<number>;
  /**
   * Inside a transaction (PostgreSQL; SQLite's write transaction already
   * locks everything): creates the missing rows of `buckets` full, as `take`
   * would, then locks every row in key order, so transactions that take
   * several buckets, new ones included, cannot deadlock on each other.
   * `existing` keys (a settlement's) are locked in the same order but never
   * created: a settlement of a pruned row stays a no-op.
   */
  lockInOrder(
    buckets: readonly { readonly key: string; readonly shape: BucketShape }[],
    now: number,
    existing?: readonly string[],
  ): Promise<void>;
  get(key: string): Promise<QuotaBucketRow | undefined>;
  /** Buckets last changed after `after` (ms since the epoch), latest first: stamped by a clock ahead. */
  changedAfter(after: number): Promise<QuotaBucketRow[]>;
  /**
   * Sets `updated_at` to `now` on those of `keys` still last changed after
   * `after`, their tokens kept: they refill from `now` at their rate, rather
   * than from the time a clock ahead stamped them. Returns the rows changed,
   * as they were before.
   */
  restamp(keys: readonly string[], after: number, now: number): Promise<QuotaBucketRow[]>;
}

/** One A2A task: the A2A SDK's task JSON, scoped by tenant and owner, served by one agent. */
export interface A2aTaskRow {
  readonly tenant: string;
  readonly owner: string;
  readonly taskId: string;
  /** The agent (did:key) whose endpoint holds the task: another agent's endpoint never sees it. */
  readonly agent: string;
  /** The cluster node that last saved it (its receipts are in that node's log). */
  readonly node: string;
  readonly task: string;
  readonly updatedAt: string;
}

export interface A2aTaskScope {
  readonly tenant: string;
  readonly owner: string;
  readonly agent: string;
}

export interface A2aTaskRepo {
  /** Inserts or replaces the task; a task id held by another agent in the same scope is left alone. */
  save(row: A2aTaskRow): Promise<void>;
  load(scope: A2aTaskScope, taskId: string): Promise<A2aTaskRow | undefined>;
  list(scope: A2aTaskScope): Promise<A2aTaskRow[]>;
}

export interface SecurityEventRow {
  readonly at: string;
  readonly kind: string;
  readonly subject: string | null;
  /** JSON object; never secret values. */
  readonly detail: string;
}

export interface SecurityEventRepo {
  append(row: SecurityEventRow): Promise<void>;
  list(filter?: {
    readonly kind?: string;
    readonly afterId?: number;
    readonly limit?: number;
  }): Promise<(SecurityEventRow & { readonly id: number })[]>;
}

/** Every repository, bound either to the store or to one transaction. */
/** Signed-request nonces (src/identity/signed-request.ts) shared by every node of a cluster. */
export interface RequestNonceRepo {
  /**
   * True when `nonce` was not seen (or its row expired by `now`, unix ms) and is now kept until `expiresAt`;
   * false when it is live: a replay. Atomic: two concurrent calls with one nonce never both return true.
   */
  remember(nonce: string, expiresAt: number, now: number): Promise<boolean>;
  /** Deletes the rows expired by `now`; returns how many. */
  prune(now: number): Promise<number>;
}

export interface Repos {
  readonly agents: AgentRepo;
  readonly context: ContextRepo;
  readonly checkpoints: CheckpointRepo;
  readonly accessLog: AccessLogRepo;
  readonly credentials: CredentialRepo;
  readonly apiKeys: ApiKeyRepo;
  readonly quotaBuckets: QuotaBucketRepo;
  readonly securityEvents: SecurityEventRepo;
  readonly a2aTasks: A2aTaskRepo;
  readonly requestNonces: RequestNonceRepo;
}

/** The repositories bound to one open transaction, plus savepoints inside it. */
export interface TransactionRepos extends Repos {
  /** Raw SQL bound to this transaction, for tables kept outside the repositories (the model gateway's batches). */
  readonly sql: Sql;
  /**
   * Runs `fn` inside a SAVEPOINT of this transaction: if `fn` throws, its
   * writes are rolled back (the transaction's others stay) and the error is
   * rethrown; otherwise the savepoint is released and its writes commit with
   * the transaction. Calls may nest but must not overlap.
   */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
}

export interface Store extends Repos {
  readonly dialect: DialectName;
  /** Where the store lives, with any password removed (safe to print). */
  readonly location: string;
  /** The schema version (highest applied migration). */
  schemaVersion(): Promise<number>;
  /**
   * Runs `fn` in one transaction: all its writes commit together or not at
   * all. Use only `tx` inside `fn`; calling the store itself from inside would
   * wait for the transaction to end (SQLite) or run outside it (PostgreSQL).
   */
  transaction<T>(fn: (tx: TransactionRepos) => Promise<T>): Promise<T>;
  /**
   * Best effort to push deleted bytes (destroyed salts) off the disk:
   * SQLite checkpoints and truncates its WAL (secure_delete zeroes freed
   * pages); PostgreSQL vacuums the partition table. See docs/store.md.
   */
  scrub(): Promise<void>;
  /** Raw SQL on the store, for maintenance and tests; repositories are the API. */
  readonly sql: Sql;
  close(): Promise<void>;
}
