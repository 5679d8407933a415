import { randomBytes } from 'node:crypto';
import type { Dialect } from './dialect.js';

/**
 * The gateway schema as one ordered list. A migration is never edited once
 * shipped: a change is a new entry at the end. Both backends run the same
 * statements (types come from the dialect), so they report the same version
 * for the same schema.
 *
 * Timestamps are ISO-8601 TEXT (readable, sortable, portable); flags are
 * INTEGER 0/1; JSON documents are TEXT.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  statements(d: Dialect): readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'gateway core tables',
    statements: (d) => [
      `CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        manifest TEXT NOT NULL,
        state TEXT NOT NULL,
        parent_id TEXT REFERENCES agents (id),
        sealed_key TEXT NOT NULL,
        code TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      'CREATE INDEX agents_parent ON agents (parent_id)',
      'CREATE INDEX agents_name ON agents (name)',
      // salt NULL means the partition key was destroyed (crypto-shredding).
      `CREATE TABLE context_partitions (
        agent_id TEXT PRIMARY KEY REFERENCES agents (id),
        salt ${d.blob},
        used_bytes ${d.bigint} NOT NULL,
        created_at TEXT NOT NULL,
        destroyed_at TEXT
      )`,
      `CREATE TABLE context_entries (
        agent_id TEXT NOT NULL REFERENCES context_partitions (agent_id),
        key_name TEXT NOT NULL,
        nonce ${d.blob} NOT NULL,
        ciphertext ${d.blob} NOT NULL,
        size ${d.bigint} NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, key_name)
      )`,
      `CREATE TABLE agent_checkpoints (
        agent_id TEXT NOT NULL REFERENCES agents (id),
        seq ${d.bigint} NOT NULL,
        nonce ${d.blob} NOT NULL,
        ciphertext ${d.blob} NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, seq)
      )`,
      `CREATE TABLE access_log (
        id ${d.autoId},
        at TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        key_name TEXT NOT NULL,
        op TEXT NOT NULL,
        bytes ${d.bigint} NOT NULL,
        outcome TEXT NOT NULL,
        actor TEXT
      )`,
      'CREATE INDEX access_log_agent ON access_log (agent_id, id)',
      `CREATE TABLE credentials (
        name TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        inject_kind TEXT NOT NULL,
        inject_name TEXT NOT NULL,
        nonce ${d.blob} NOT NULL,
        ciphertext ${d.blob} NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (name, agent_id, tool)
      )`,
      'CREATE INDEX credentials_agent ON credentials (agent_id)',
      `CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        salt ${d.blob} NOT NULL,
        hash ${d.blob} NOT NULL,
        scopes TEXT NOT NULL,
        label TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      )`,
      `CREATE TABLE quota_counters (
        subject TEXT NOT NULL,
        resource TEXT NOT NULL,
        window_start ${d.bigint} NOT NULL,
        used ${d.bigint} NOT NULL,
        PRIMARY KEY (subject, resource, window_start)
      )`,
      `CREATE TABLE security_events (
        id ${d.autoId},
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT,
        detail TEXT NOT NULL
      )`,
      'CREATE INDEX security_events_kind ON security_events (kind, id)',
    ],
  },
  {
    version: 2,
    name: 'agent attributes and unique agent names',
    statements: () => [
      // Attributes policies read as principal.<name>; JSON object of string | number | boolean.
      "ALTER TABLE agents ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'",
      // Names are how people and policies refer to agents, so one name is one agent, for good.
      'DROP INDEX agents_name',
      'CREATE UNIQUE INDEX agents_name_unique ON agents (name)',
    ],
  },
  {
    version: 3,
    name: 'token-bucket quotas',
    statements: (d) => [
      // One row per bucket (agent, tool, API key, ...): the level at updated_at (ms since the epoch).
      // tokens may be negative: a settle that charged more than was reserved leaves a debt.
      `CREATE TABLE quota_buckets (
        bucket_key TEXT PRIMARY KEY,
        tokens ${d.real} NOT NULL,
        capacity ${d.real} NOT NULL,
        refill ${d.real} NOT NULL,
        window_ms ${d.bigint} NOT NULL,
        updated_at ${d.bigint} NOT NULL,
        used ${d.real} NOT NULL,
        refused ${d.bigint} NOT NULL
      )`,
      // The fixed-window counters were never used by the gateway; the buckets replace them.
      'DROP TABLE quota_counters',
    ],
  },
  {
    version: 4,
    name: 'API keys bound to one agent',
    statements: () => [
      // NULL: an operator's key; a did:key: the key acts as that agent (e.g. an agent's own SDK key for models).
      'ALTER TABLE api_keys ADD COLUMN agent_id TEXT',
    ],
  },
  {
    version: 5,
    name: 'A2A tasks shared by the nodes of a cluster',
    statements: () => [
      // One row per task, scoped as the A2A SDK scopes them (tenant, then owner); task is the SDK's JSON.
      `CREATE TABLE a2a_tasks (
        tenant TEXT NOT NULL,
        owner TEXT NOT NULL,
        task_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        node TEXT NOT NULL,
        task TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (tenant, owner, task_id)
      )`,
      'CREATE INDEX a2a_tasks_agent ON a2a_tasks (agent, tenant, owner)',
    ],
  },
  {
    version: 6,
    name: 'asynchronous model batches',
    statements: () => [
      // One row per batch (docs/model-gateway.md), scoped to the agent that created it, run by one node; results is
      // the JSONL of its answers once it ended (NULL before), counts and the object are JSON.
      `CREATE TABLE model_batches (
        id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL,
        node TEXT NOT NULL,
        status TEXT NOT NULL,
        batch TEXT NOT NULL,
        results TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      'CREATE INDEX model_batches_node ON model_batches (node, status)',
    ],
  },
  {
    version: 7,
    name: 'signed-request nonces shared by the nodes of a cluster',
    statements: (d) => [
      // One row per signer-scoped nonce seen, kept until its request's timestamp window closes (ms since the epoch);
      // a single node keeps its nonces in its home's SQLite file instead (src/identity/home-nonce-store.ts).
      `CREATE TABLE request_nonces (
        nonce TEXT PRIMARY KEY,
        expires_at ${d.bigint} NOT NULL
      )`,
      'CREATE INDEX request_nonces_expiry ON request_nonces (expires_at)',
    ],
  },
  {
    version: 8,
    name: 'uploaded model batch input files in a table of their own',
    statements: () => [
      // One row per uploaded file (POST /v1/files, docs/model-gateway.md), its uploading agent's alone: object is
      // OpenAI's file object (JSON), content the file as uploaded. Version 6 kept them as model_batches rows of
      // status `file` (object in batch, content in results): those move here, so a home keeps its files.
      `CREATE TABLE model_files (
        id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL,
        purpose TEXT NOT NULL,
        object TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`,
      'CREATE INDEX model_files_agent ON model_files (agent_id)',
      `INSERT INTO model_files (id, agent_id, purpose, object, content, created_at)
        SELECT id, agent_id, 'batch', batch, COALESCE(results, ''), created_at FROM model_batches WHERE status = 'file'`,
      "DELETE FROM model_batches WHERE status = 'file'",
    ],
  },
  {
    version: 9,
    name: 'model batches resumable after a restart',
    statements: () => [
      // run: what resuming the batch needs, as JSON (its budget reservation, the log size when it started); NULL
      // for a batch from before version 9, which is failed at the next start as before.
      'ALTER TABLE model_batches ADD COLUMN run TEXT',
      // One row per item of a batch, written as the item goes (docs/model-gateway.md, Batches after a restart):
      // state pending | sent | submitting | submitted | done; body is the item's request (JSON), progress what the
      // state needs (drawn and charged budget, the provider batch holding it, its result and receipt) as JSON.
      `CREATE TABLE model_batch_items (
        batch_id TEXT NOT NULL,
        item INTEGER NOT NULL,
        custom_id TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        progress TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (batch_id, item)
      )`,
    ],
  },
  {
    version: 10,
    name: 'the store names itself, so a home notices a store that was replaced',
    statements: () => [
      // One row: a random id made when this store was made (or first migrated to version 10). A home records the
      // id of the store it uses (src/store/store-identity.ts): a store deleted or replaced by an empty one while no
      // process ran has another id, and is refused rather than trusted with every quota window starting full.
      'CREATE TABLE store_identity (id TEXT PRIMARY KEY, created_at TEXT NOT NULL)',
      `INSERT INTO store_identity (id, created_at) VALUES ('${randomBytes(16).toString('hex')}', '${new Date().toISOString()}')`,
    ],
  },
];

/** The version a fully migrated store reports. */
export const SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
