import { QuotaExceededError } from '../../airlock/quota/errors.js';
import { OacpError } from '../../core/errors.js';
import type { AccessLogRow, PartitionRow, Repos, Store } from '../../store/index.js';
import type { VaultErrorCode } from './errors.js';
import { checkpointAad, contextAad, newSalt, open, partitionKey, seal } from './partition-crypto.js';

export interface ContextVaultOptions {
  readonly store: Store;
  /** The 32-byte master key (identity's loadMasterKey). */
  readonly masterKey: Uint8Array;
  /** Plaintext bytes one partition may hold in total; default 16 MiB. */
  readonly partitionQuotaBytes?: number;
  readonly now?: () => Date;
}

/** Who is asking, recorded in the access log (an API key id, an agent id). */
export interface AccessOptions {
  readonly actor?: string;
}

export interface ContextKeyInfo {
  readonly key: string;
  readonly size: number;
  readonly updatedAt: string;
}

export interface Checkpoint {
  readonly seq: number;
  readonly state: unknown;
  readonly createdAt: string;
}

export const DEFAULT_PARTITION_QUOTA_BYTES = 16 * 1024 * 1024;
const MAX_KEY_LENGTH = 256;

/**
 * Each agent's context in its own encrypted partition (docs/context-vault.md).
 *
 * - AES-256-GCM under a key derived from the master key, the agent id and a
 *   random per-partition salt kept in the store; destroying the salt makes
 *   every ciphertext of the partition unreadable, master key or not.
 * - The AAD binds agent id and key name: a ciphertext copied to another key
 *   or partition fails authentication.
 * - Every read, write, delete and listing appends an access-log row (agent,
 *   key, op, bytes, outcome, actor; never values) in the same transaction as
 *   the access itself, so there is no access without its log row.
 * - A per-partition quota on plaintext bytes; a refusal names the quota and limit.
 */
export class ContextVault {
  readonly #store: Store;
  readonly #masterKey: Uint8Array;
  readonly #quota: number;
  readonly #now: () => Date;

  constructor(options: ContextVaultOptions) {
    if (options.masterKey.length !== 32) {
      throw new OacpError<VaultErrorCode>('VAULT_KEY_INVALID', 'the master key must be 32 bytes');
    }
    this.#store = options.store;
    this.#masterKey = options.masterKey;
    this.#quota = options.partitionQuotaBytes ?? DEFAULT_PARTITION_QUOTA_BYTES;
    this.#now = options.now ?? (() => new Date());
  }

  get partitionQuotaBytes(): number {
    return this.#quota;
  }

  /** Creates the agent's partition with a fresh salt; pass `tx` to join the agent's creation. */
  async createPartition(agentId: string, tx: Repos = this.#store): Promise<void> {
    await tx.context.createPartition(agentId, newSalt(), this.#stamp());
  }

  /** Stores `value` under `key`, replacing any previous value. */
  async put(
    agentId: string,
    key: string,
    value: Uint8Array | string,
    options: AccessOptions = {},
  ): Promise<void> {
    checkKey(key);
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    let refusal: QuotaExceededError | undefined;
    await this.#store.transaction(async (tx) => {
      const partition = await this.#livePartition(tx, agentId, { lock: true });
      const previous = await tx.context.get(agentId, key);
      const used = partition.usedBytes - (previous?.size ?? 0) + bytes.length;
      if (used > this.#quota) {
        refusal = new QuotaExceededError(
          'context_bytes',
          this.#quota,
          `context quota context_bytes exceeded for agent ${agentId}: limit ${this.#quota} bytes, the partition would hold ${used}`,
        );
        return;
      }
      const sealed = seal(this.#key(partition, 'context'), contextAad(agentId, key), bytes);
      await tx.context.put({ agentId, key, ...sealed, size: bytes.length, updatedAt: this.#stamp() });
      await tx.context.setUsedBytes(agentId, used);
      await tx.accessLog.append(this.#log(agentId, key, 'write', bytes.length, 'ok', options));
    });
    if (refusal !== undefined) {
      await this.#store.accessLog.append(this.#log(agentId, key, 'write', bytes.length, 'denied', options));
      throw refusal;
    }
  }

  /** The value under `key`, or undefined when there is none. */
  async get(agentId: string, key: string, options: AccessOptions = {}): Promise<Uint8Array | undefined> {
    checkKey(key);
    return this.#store.transaction(async (tx) => {
      const partition = await this.#livePartition(tx, agentId);
      const row = await tx.context.get(agentId, key);
      if (row === undefined) {
        await tx.accessLog.append(this.#log(agentId, key, 'read', 0, 'missing', options));
        return undefined;
      }
      const value = open(this.#key(partition, 'context'), contextAad(agentId, key), row);
      if (value === undefined) {
        throw new OacpError<VaultErrorCode>(
          'VAULT_DECRYPT_FAILED',
          `context entry "${key}" of agent ${agentId} failed authentication: it was altered, moved from another key or partition, or sealed under another master key`,
        );
      }
      await tx.accessLog.append(this.#log(agentId, key, 'read', value.length, 'ok', options));
      return value;
    });
  }

  async getText(agentId: string, key: string, options: AccessOptions = {}): Promise<string | undefined> {
    const value = await this.get(agentId, key, options);
    return value === undefined ? undefined : new TextDecoder().decode(value);
  }

  /** True when a value was deleted. */
  async delete(agentId: string, key: string, options: AccessOptions = {}): Promise<boolean> {
    checkKey(key);
    return this.#store.transaction(async (tx) => {
      const partition = await this.#livePartition(tx, agentId, { lock: true });
      const row = await tx.context.get(agentId, key);
      if (row === undefined) {
        await tx.accessLog.append(this.#log(agentId, key, 'delete', 0, 'missing', options));
        return false;
      }
      await tx.context.delete(agentId, key);
      await tx.context.setUsedBytes(agentId, Math.max(0, partition.usedBytes - row.size));
      await tx.accessLog.append(this.#log(agentId, key, 'delete', row.size, 'ok', options));
      return true;
    });
  }

  /** Key names and sizes (never values); logged as a `list` of key `*`. */
  async list(agentId: string, options: AccessOptions = {}): Promise<ContextKeyInfo[]> {
    return this.#store.transaction(async (tx) => {
      await this.#livePartition(tx, agentId);
      const keys = await tx.context.keys(agentId);
      await tx.accessLog.append(this.#log(agentId, '*', 'list', 0, 'ok', options));
      return keys;
    });
  }

  async usage(agentId: string): Promise<{ readonly usedBytes: number; readonly limitBytes: number }> {
    const partition = await this.#livePartition(this.#store, agentId);
    return { usedBytes: partition.usedBytes, limitBytes: this.#quota };
  }

  /** The access log of one agent's partition, oldest first. */
  accessLog(
    agentId: string,
    page: { readonly afterId?: number; readonly limit?: number } = {},
  ): ReturnType<Store['accessLog']['list']> {
    return this.#store.accessLog.list({ ...page, agentId });
  }

  /**
   * Crypto-shreds the partition: forgets its salt and deletes its entries and
   * checkpoints. Pass `tx` to join the agent's retirement; call
   * `store.scrub()` after the commit to push the old bytes off the disk.
   */
  async destroyPartition(agentId: string, tx: Repos = this.#store): Promise<boolean> {
    await tx.checkpoints.deleteAll(agentId);
    return tx.context.destroyPartition(agentId, this.#stamp());
  }

  /** Serializes `state` as JSON and stores it encrypted under the partition's checkpoint key. */
  async saveCheckpoint(agentId: string, state: unknown): Promise<number> {
    let json: string | undefined;
    try {
      json = JSON.stringify(state);
    } catch (error) {
      throw new OacpError<VaultErrorCode>(
        'VAULT_STATE_INVALID',
        `agent ${agentId} state cannot be checkpointed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (json === undefined) {
      throw new OacpError<VaultErrorCode>(
        'VAULT_STATE_INVALID',
        `agent ${agentId} state cannot be checkpointed: it has no JSON form`,
      );
    }
    const bytes = new TextEncoder().encode(json);
    return this.#store.transaction(async (tx) => {
      const partition = await this.#livePartition(tx, agentId, { lock: true });
      const sealed = seal(this.#key(partition, 'checkpoint'), checkpointAad(agentId), bytes);
      return tx.checkpoints.append(agentId, sealed.nonce, sealed.ciphertext, this.#stamp());
    });
  }

  /** The latest checkpoint, decrypted, or undefined when none was saved. */
  async loadCheckpoint(agentId: string): Promise<Checkpoint | undefined> {
    const partition = await this.#livePartition(this.#store, agentId);
    const row = await this.#store.checkpoints.latest(agentId);
    if (row === undefined) return undefined;
    const plaintext = open(this.#key(partition, 'checkpoint'), checkpointAad(agentId), row);
    if (plaintext === undefined) {
      throw new OacpError<VaultErrorCode>(
        'VAULT_DECRYPT_FAILED',
        `checkpoint ${row.seq} of agent ${agentId} failed authentication: altered, moved from another agent, or sealed under another master key`,
      );
    }
    return { seq: row.seq, state: JSON.parse(new TextDecoder().decode(plaintext)), createdAt: row.createdAt };
  }

  async #livePartition(
    repos: Repos,
    agentId: string,
    options: { readonly lock?: boolean } = {},
  ): Promise<PartitionRow & { readonly salt: Uint8Array }> {
    const partition = await repos.context.partition(agentId, options);
    if (partition === undefined) {
      throw new OacpError<VaultErrorCode>('VAULT_NO_PARTITION', `agent ${agentId} has no context partition`);
    }
    if (partition.salt === null) {
      throw new OacpError<VaultErrorCode>(
        'VAULT_DESTROYED',
        `the context of agent ${agentId} was destroyed at ${partition.destroyedAt ?? 'retirement'}; it cannot be read or written`,
      );
    }
    return { ...partition, salt: partition.salt };
  }

  #key(
    partition: { readonly agentId: string; readonly salt: Uint8Array },
    purpose: 'context' | 'checkpoint',
  ) {
    return partitionKey(this.#masterKey, partition.salt, partition.agentId, purpose);
  }

  #stamp(): string {
    return this.#now().toISOString();
  }

  #log(
    agentId: string,
    key: string,
    op: string,
    bytes: number,
    outcome: string,
    options: AccessOptions,
  ): AccessLogRow {
    return { at: this.#stamp(), agentId, key, op, bytes, outcome, actor: options.actor ?? null };
  }
}

function checkKey(key: string): void {
  // Control characters would let a key name forge lines in anything that prints the access log.
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || hasControlCharacter(key)) {
    throw new OacpError<VaultErrorCode>(
      'VAULT_KEY_INVALID',
      `a context key must be 1-${MAX_KEY_LENGTH} characters without control characters`,
    );
  }
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
