import { z } from 'zod';
import { parseCidr } from './cidr.js';
import { parseHostPattern } from './host-pattern.js';
import { pathGlobProblem } from './path-glob.js';

/**
 * The capability manifest: what a sandboxed workload may touch. Everything not
 * named here is denied. Field names follow the `capabilities:` block of
 * `oacp.yaml` in the architecture document, so one schema serves both.
 * Entries are checked here, at the boundary, with the same parsers the
 * matchers use, so a pattern that validates is a pattern that matches as
 * documented (docs/manifest.md).
 */

const Glob = z
  .string()
  .min(1, 'must not be empty')
  .superRefine((text, ctx) => {
    const problem = pathGlobProblem(text);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
const HostPattern = z
  .string()
  .refine((text) => parseHostPattern(text) !== undefined, 'must be host, host:port or *.domain');
const DenyEntry = z
  .string()
  .min(1, 'must not be empty')
  .refine(
    (text) => parseCidr(text) !== undefined || parseHostPattern(text) !== undefined,
    'must be a host, *.domain, host:port, IP address or CIDR block',
  );
const EnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'must be an environment variable name, optionally ending in *');
const ToolName = z
  .string()
  .min(1, 'must not be empty')
  .regex(/^[^\s*]*\*?$/, 'must be a tool name, optionally ending in *, without spaces');

export const NetworkSchema = z.strictObject({
  allowlist: z.array(HostPattern).default([]),
  denylist: z.array(DenyEntry).default([]),
  /**
   * `false` (`--no-node-preload`): no NODE_OPTIONS preload routing Node's fetch and node:http(s)
   * through the egress proxy; the allowlist is enforced all the same (docs/egress.md, "Opting out").
   */
  node_preload: z.boolean().optional(),
});

export const ToolsSchema = z.strictObject({
  allow: z.array(ToolName).default([]),
  deny: z.array(ToolName).default([]),
});

const ModelName = z
  .string()
  .min(1, 'must not be empty')
  .regex(/^[^\s*]*\*?$/, 'must be a model name or alias, optionally ending in *, without spaces');

const ProviderToolType = z
  .string()
  .min(1, 'must not be empty')
  .regex(/^[^\s*]*\*?$/, 'must be a provider tool type, optionally ending in *, without spaces');

/** Which models (names or gateway aliases) the workload may call through the model gateway. */
export const ModelsSchema = z.strictObject({
  allow: z.array(ModelName).default([]),
  deny: z.array(ModelName).default([]),
  /**
   * Tools the provider itself runs (Anthropic `web_search_20250305`, OpenAI `web_search_options`),
   * named by type: refused unless listed here, since the provider fetches and bills outside
   * OACP's egress policy and budgets (docs/model-gateway.md, "Provider-side tools").
   */
  provider_tools: z.array(ProviderToolType).default([]),
});

export const CapabilitiesSchema = z.strictObject({
  file_read: z.array(Glob).default([]),
  file_write: z.array(Glob).default([]),
  network: NetworkSchema.default({ allowlist: [], denylist: [] }),
  env: z.array(EnvName).default([]),
  tools: ToolsSchema.default({ allow: [], deny: [] }),
  models: ModelsSchema.default({ allow: [], deny: [], provider_tools: [] }),
  /**
   * socket(AF_UNIX) in the hardened tier (`--allow-unix-sockets`): refused
   * unless true, since a host pathname socket inside a granted directory,
   * `:ro` included, then becomes connectable (docs/hardened-tier.md).
   */
  unix_sockets: z.boolean().optional(),
});

/**
 * Resources whose kernel limit a user may accept going without, by name
 * (`--allow-unenforced`, `quotas.allow_unenforced`); see docs/quotas.md.
 */
export const UNENFORCED_NAMES = ['memory', 'pids', 'cpu', 'disk_io', 'identity'] as const;
export type UnenforcedName = (typeof UNENFORCED_NAMES)[number];

/** Defaults are the seed's quota table plus start-up and lifetime CPU; each is a hard cutoff. */
export const QuotasSchema = z.strictObject({
  cpu_ms_per_request: z.number().int().positive().default(1000),
  /**
   * CPU a native workload may use in its first busy stretch (and its first
   * seconds), when runtimes load their code; sized on measurements in docs/quotas.md.
   */
  startup_cpu_ms: z.number().int().nonnegative().default(10_000),
  /** CPU a native sandbox may use over its whole life, counted by the kernel. */
  cpu_ms_total: z.number().int().positive().default(3_600_000),
  memory_mb: z.number().int().positive().default(512),
  disk_io_mb_per_s: z.number().positive().default(10),
  network_requests_per_min: z.number().int().nonnegative().default(100),
  api_calls_per_hour: z.number().int().nonnegative().default(1000),
  llm_tokens_per_request: z.number().int().nonnegative().default(100_000),
  tmp_mb: z.number().int().positive().default(64),
  max_pids: z.number().int().positive().default(128),
  max_open_files: z.number().int().positive().default(1024),
  max_output_bytes: z
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024),
  burst: z.number().int().nonnegative().default(10),
  /** Limits this host cannot enforce in the kernel that the user accepts as polled or absent. */
  allow_unenforced: z.array(z.enum(UNENFORCED_NAMES)).default([]),
});

export const ManifestSchema = z.strictObject({
  apiVersion: z.literal('oacp.dev/v1'),
  kind: z.literal('CapabilityManifest'),
  name: z.string().min(1),
  capabilities: CapabilitiesSchema.default(CapabilitiesSchema.parse({})),
  quotas: QuotasSchema.default(QuotasSchema.parse({})),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type Capabilities = z.infer<typeof CapabilitiesSchema>;
export type Quotas = z.infer<typeof QuotasSchema>;
export type NetworkGrant = z.infer<typeof NetworkSchema>;
export type ToolsGrant = z.infer<typeof ToolsSchema>;
export type ModelsGrant = z.infer<typeof ModelsSchema>;
