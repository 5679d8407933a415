import { z } from 'zod';
import { CapabilitiesSchema, ToolsSchema } from '../../capability/manifest.js';
import {
  DEFAULT_MAX_UNREAD_ANSWER_BYTES,
  MAX_UNREAD_ANSWER_BYTES,
  MIN_UNREAD_ANSWER_BYTES,
} from '../../core/unread-answers.js';
import { isDidKey } from '../../identity/did-key.js';
import { parseVerifierKey, SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519 } from '../../log/note-keys.js';
import { ModelsSectionSchema } from '../models/config.js';
import { bool, httpUrl, listenAddress, oneOf, paths, positiveInt, TierNameSchema, text } from './fields.js';
import { McpSectionSchema } from './mcp-section.js';
import { QuotasSectionSchema } from './quotas-section.js';
import { refuseOldToolNames } from './tool-name-check.js';

/**
 * oacp.yaml: the seed's configuration reference (sandbox, attestation) plus
 * what the gateway needs (gateway, mcp, a2a, otel, policies, quotas). Every
 * object is strict: an unknown key is an error naming its path, so a typo
 * never silently turns a setting off. docs/gateway-config.md is the
 * reference.
 */

/** A manifest signer: did:key of an Ed25519 key, or its raw 32 bytes in base64. */
const TrustedKey = z
  .string({ error: 'expected a did:key or base64 Ed25519 public key' })
  .refine((value) => isDidKey(value) || isRawKeyBase64(value), {
    error: 'expected a did:key:z6Mk... or the base64 of a 32-byte Ed25519 public key',
  });

function isRawKeyBase64(value: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(value) && Buffer.from(value, 'base64').length === 32;
}

/** The most `gateway.max_body_bytes` may be: a body is held whole in memory before it is parsed. */
const MAX_BODY_BYTES = 1024 * 1024 * 1024;

const GatewaySection = z
  .strictObject({
    listen: listenAddress().default('127.0.0.1:8080'),
    tls: z
      .strictObject({ cert: text(), key: text() }, { error: 'expected an object with cert and key' })
      .optional(),
    /** SQLite file path or postgres:// URL; absent means `<home>/gateway.db`. */
    store: text().optional(),
    require_signed_manifests: bool().default(false),
    /** Keys whose manifest signatures are trusted (DSSE). */
    manifest_keys: z.array(TrustedKey, { error: 'expected a list of keys' }).default([]),
    /** Largest request body the gateway reads, in bytes; a larger one is a 413 as its bytes arrive. */
    max_body_bytes: positiveInt()
      .max(MAX_BODY_BYTES, { error: `must be at most ${MAX_BODY_BYTES} (1 GiB)` })
      .default(1024 * 1024),
    /**
     * Bytes of request bodies read at once over every connection (src/core/body-bytes.ts);
     * past it a body is refused with 503 as it arrives. Absent: 16 bodies of `max_body_bytes`.
     */
    body_bytes_in_flight: positiveInt()
      .max(16 * MAX_BODY_BYTES, { error: `must be at most ${16 * MAX_BODY_BYTES} (16 GiB)` })
      .optional(),
    /**
     * Connections the API listener holds at once; one past it is closed as it is accepted
     * (src/core/connection-cap.ts). Absent: half the open-file limit, at most 4096.
     */
    max_connections: positiveInt().max(1_000_000, { error: 'must be at most 1000000' }).optional(),
    /**
     * Bytes of answers the API listener holds at once for clients that do not read them; past it
     * the answer with the most unread bytes is cut and its connection closed (src/core/unread-answers.ts).
     */
    max_unread_answer_bytes: positiveInt()
      .min(MIN_UNREAD_ANSWER_BYTES, {
        error: `must be at least ${MIN_UNREAD_ANSWER_BYTES} (1 MiB): below it an answer to a client reading a little slowly would be cut`,
      })
      .max(MAX_UNREAD_ANSWER_BYTES, { error: `must be at most ${MAX_UNREAD_ANSWER_BYTES} (16 GiB)` })
      .default(DEFAULT_MAX_UNREAD_ANSWER_BYTES),
  })
  .superRefine((gateway, ctx) => {
    if (gateway.body_bytes_in_flight !== undefined && gateway.body_bytes_in_flight < gateway.max_body_bytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['body_bytes_in_flight'],
        message: `must be at least max_body_bytes (${gateway.max_body_bytes}), or no body of that size could ever be read`,
      });
    }
    if (gateway.require_signed_manifests && gateway.manifest_keys.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['manifest_keys'],
        message: 'require_signed_manifests is on but no manifest signing keys are trusted',
      });
    }
  });

const WasmSection = z.strictObject({
  runtime: z
    .string({ error: 'expected a string' })
    .refine((value) => value === 'quickjs', {
      error: 'only "quickjs" is available (QuickJS compiled to WebAssembly, run by Node\'s V8)',
    })
    .default('quickjs'),
  memory_limit_mb: positiveInt().default(512),
  cpu_quota_ms: positiveInt().default(1000),
});

const TeeSection = z
  .strictObject({
    enabled: bool().default(false),
    provider: oneOf(['intel_sgx', 'intel_tdx', 'amd_sev', 'azure_cc'] as const).optional(),
  })
  .superRefine((tee, ctx) => {
    if (tee.enabled && tee.provider === undefined) {
      ctx.addIssue({ code: 'custom', path: ['provider'], message: 'required when tee.enabled is true' });
    }
  });

const CeilingSchema = CapabilitiesSchema.extend({
  tools: ToolsSchema.optional()
    .refine((tools) => tools !== undefined, {
      error:
        'required in a capability ceiling (tools: { allow: ["*"] } lets agent manifests decide; allow: [] gives agents no tools)',
    })
    .transform((tools) => tools ?? { allow: [], deny: [] }),
});

const SandboxSection = z.strictObject({
  default_type: TierNameSchema.default('standard'),
  wasm: WasmSection.default(WasmSection.parse({})),
  /**
   * The deny-by-default ceiling every agent manifest is intersected with.
   * Absent, it grants nothing. Given, it must say which tools it allows: a
   * ceiling without `tools` would silently take every tool from every agent.
   */
  capabilities: CeilingSchema.default(CeilingSchema.parse({ tools: {} })),
  tee: TeeSection.default(TeeSection.parse({})),
});

const AttestationSection = z.strictObject({
  /** basic: the Airlock signs; standard: the agent co-signs; full: standard plus a TEE quote when available. */
  level: oneOf(['basic', 'standard', 'full'] as const).default('basic'),
  registry: httpUrl().optional(),
  retention_days: positiveInt().default(90),
});

const A2aSection = z.strictObject({
  /** Which agent may delegate to which (ids or names); checked by the A2A layer. */
  trust: z
    .array(z.strictObject({ from: text(), to: text() }), { error: 'expected a list of {from, to}' })
    .default([]),
  /**
   * Receipts for refusals of unauthenticated input (anyone can cause those), per client
   * address and for all together, per minute; past them the refusal is answered the same and
   * summed up in one receipt per agent and minute (docs/receipts.md).
   */
  refusal_receipts: z
    .strictObject({
      per_source_per_minute: positiveInt().default(30),
      overall_per_minute: positiveInt().default(300),
    })
    .default({ per_source_per_minute: 30, overall_per_minute: 300 }),
});

const OtelSection = z.strictObject({
  endpoint: httpUrl().optional(),
  service_name: text().default('oacp-gateway'),
});

/** A vkey string of the given signature type (0x01 log key, 0x04 witness key). */
const noteKey = (sigType: number, what: string, printedBy: string) =>
  text().refine(
    (value) => {
      try {
        return parseVerifierKey(value).sigType === sigType;
      } catch {
        return false;
      }
    },
    { error: `expected ${what} (name+keyid+base64, as \`${printedBy}\` prints it)` },
  );

/**
 * `log`: other gateways this node gossips checkpoints with (docs/log.md, docs/cluster.md). Each
 * peer's log key verifies its checkpoints; with its witness key, its cosignatures on this log's
 * checkpoints are kept and served. Cluster members are peers without being listed here.
 */
const LogSection = z.strictObject({
  peers: z
    .array(
      z.strictObject({
        url: httpUrl(),
        key: noteKey(SIG_TYPE_ED25519, "the peer log's Ed25519 note key", 'oacp keys export'),
        witness_key: noteKey(
          SIG_TYPE_COSIGNATURE_V1,
          "the peer's cosignature key",
          'oacp log cosigned',
        ).optional(),
      }),
      { error: 'expected a list of peers ({url, key, witness_key})' },
    )
    .default([]),
  gossip_interval_ms: positiveInt().min(100, 'at least 100 ms').default(10_000),
});

/** `cluster`: join gateways sharing a PostgreSQL store through etcd (docs/cluster.md). */
const ClusterSection = z.strictObject({
  etcd: z
    .array(httpUrl(), { error: 'expected a list of etcd client URLs' })
    .min(1, 'list at least one etcd URL'),
  node_id: z
    .string({ error: 'expected a node id' })
    .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'a node id is 1-200 of A-Z a-z 0-9 . _ : -'),
  ttl_seconds: positiveInt().default(3),
  /**
   * Node-to-node mutual TLS (docs/cluster.md): with it, forwarding, migration and gossip between
   * members go to a second listener (`listen`) that lets in only members registered in etcd.
   * Either a configured CA (`{ca, cert, key}`: the client certificate must be issued by `ca`,
   * subject CN a member; `cert` has CN = node_id), or `node-key`: each node issues itself a
   * certificate for a key derived from its log key, publishes that key in its etcd member record,
   * and peers accept a certificate only when its key is the one published for that node id.
   */
  tls: z
    .union([z.literal('node-key'), z.strictObject({ ca: text(), cert: text(), key: text() })], {
      error: 'expected node-key, or an object with ca, cert and key (PEM files)',
    })
    .optional(),
  listen: listenAddress().default('127.0.0.1:0'),
});

export const GatewayConfigSchema = z
  .strictObject({
    gateway: GatewaySection.default(GatewaySection.parse({})),
    sandbox: SandboxSection.default(SandboxSection.parse({})),
    attestation: AttestationSection.default(AttestationSection.parse({})),
    mcp: McpSectionSchema.default(McpSectionSchema.parse({})),
    a2a: A2aSection.default(A2aSection.parse({})),
    otel: OtelSection.default(OtelSection.parse({})),
    /** Cedar policy files, evaluated together. */
    policies: paths().default([]),
    /** The agents' quota ceiling, plus the per-tool, per-API-key and LLM-budget limits. */
    quotas: QuotasSectionSchema.default(QuotasSectionSchema.parse({})),
    /** The model gateway: providers, aliases, prices, budgets (docs/model-gateway.md). */
    models: ModelsSectionSchema.default(ModelsSectionSchema.parse({})),
    cluster: ClusterSection.optional(),
    log: LogSection.default(LogSection.parse({})),
  })
  .superRefine(refuseOldToolNames);

export type GatewayConfig = z.output<typeof GatewayConfigSchema>;
