import { z } from 'zod';

/**
 * The capability manifest: what a sandboxed workload may touch. Everything not
 * named here is denied. Field names follow the `capabilities:` block of
 * `oacp.yaml` in the architecture document, so one schema serves both.
 */

const Glob = z.string().min(1, 'must not be empty');
const HostPattern = z
  .string()
  .min(1)
  .regex(
    /^(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/,
    'must be host, host:port or *.domain',
  );
const DenyEntry = z.string().min(1, 'must not be empty');
const EnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'must be an environment variable name, optionally ending in *');

export const NetworkSchema = z.strictObject({
  allowlist: z.array(HostPattern).default([]),
  denylist: z.array(DenyEntry).default([]),
});

export const ToolsSchema = z.strictObject({
  allow: z.array(z.string().min(1)).default([]),
  deny: z.array(z.string().min(1)).default([]),
});

export const CapabilitiesSchema = z.strictObject({
  file_read: z.array(Glob).default([]),
  file_write: z.array(Glob).default([]),
  network: NetworkSchema.default({ allowlist: [], denylist: [] }),
  env: z.array(EnvName).default([]),
  tools: ToolsSchema.default({ allow: [], deny: [] }),
});

/** Defaults are the seed's quota table; each is a hard cutoff. */
export const QuotasSchema = z.strictObject({
  cpu_ms_per_request: z.number().int().positive().default(1000),
  memory_mb: z.number().int().positive().default(512),
  disk_io_mb_per_s: z.number().positive().default(10),
  network_requests_per_min: z.number().int().nonnegative().default(100),
  api_calls_per_hour: z.number().int().nonnegative().default(1000),
  llm_tokens_per_request: z.number().int().nonnegative().default(100_000),
  tmp_mb: z.number().int().positive().default(64),
  max_pids: z.number().int().positive().default(64),
  max_open_files: z.number().int().positive().default(256),
  max_output_bytes: z
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024),
  burst: z.number().int().nonnegative().default(10),
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
