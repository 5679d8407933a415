import { z } from 'zod';

/**
 * The gateway's HTTP API as zod schemas: request bodies are parsed with these
 * at the boundary, and the `oacp/client` SDK reuses them (it ranks above the
 * gateway), so both sides agree on one definition. docs/gateway.md shows each
 * endpoint with curl.
 */

export const API_PREFIX = '/v1';

/** `OACP-Signed-Request`: base64url of the JSON SignedRequest (docs/signed-requests.md). */
export const SIGNED_REQUEST_HEADER = 'oacp-signed-request';

const AttributeValue = z.union([z.string().max(1024), z.number(), z.boolean()]);
const AttributeName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be an identifier (letters, digits, _)');

export const AgentRefSchema = z.string().min(1).max(256);

export const CreateAgentSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 of a-z 0-9 _ - (starting alphanumeric)'),
  /** A capability manifest (YAML/JSON already parsed, or a signed DSSE envelope). */
  manifest: z.unknown(),
  /** The agent's program (JavaScript for the standard tier), typically defining `main(input)`. */
  code: z
    .string()
    .max(1024 * 1024)
    .optional(),
  /** Attributes policies read as `principal.<name>` (e.g. `authorized_for_hipaa`). */
  attributes: z.record(AttributeName, AttributeValue).optional(),
  /** The parent agent (did or name) for a child agent; its manifest bounds the child's. */
  parent: AgentRefSchema.optional(),
});
export type CreateAgentRequest = z.input<typeof CreateAgentSchema>;

export const TRANSITIONS = ['start', 'suspend', 'resume', 'retire'] as const;
export type Transition = (typeof TRANSITIONS)[number];

export const RunAgentSchema = z.strictObject({
  /** Code to evaluate in the agent's sandbox instead of calling `main(input)`. */
  code: z
    .string()
    .max(1024 * 1024)
    .optional(),
  input: z.unknown().optional(),
});
export type RunAgentRequest = z.input<typeof RunAgentSchema>;

export const CallToolSchema = z.strictObject({
  /** The agent the call is made as (did or name); a signed request is made as its signer and may omit it. */
  agent: AgentRefSchema.optional(),
  arguments: z.unknown().optional(),
});
export type CallToolRequest = z.input<typeof CallToolSchema>;

export const PutContextSchema = z.strictObject({ value: z.unknown() });

export const ReceiptLinkSchema = z.strictObject({
  index: z.number().int().nonnegative(),
  envelopeDigest: z.string().regex(/^[0-9a-f]{64}$/),
  log: z.string(),
});
export type ReceiptLinkBody = z.infer<typeof ReceiptLinkSchema>;

export const AgentViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  /** What the runtime reports: running, restarting, failed or stopped. */
  runtime: z.object({ status: z.string(), failure: z.string().optional() }),
  manifest: z.unknown(),
  attributes: z.record(z.string(), AttributeValue),
  parentId: z.string().nullable(),
  hasCode: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AgentView = z.infer<typeof AgentViewSchema>;

export const ToolViewSchema = z.object({
  name: z.string(),
  server: z.string(),
  kind: z.enum(['native', 'mcp']),
  description: z.string(),
  inputSchema: z.record(z.string(), z.unknown()),
  attributes: z.record(z.string(), AttributeValue),
  definitionDigest: z.string(),
});
export type ToolView = z.infer<typeof ToolViewSchema>;

export const ToolCallResponseSchema = z.object({
  result: z.unknown(),
  isError: z.boolean(),
  receipt: ReceiptLinkSchema,
});
export type ToolCallResponse = z.infer<typeof ToolCallResponseSchema>;

export const RunResponseSchema = z.object({
  value: z.unknown(),
  logs: z.array(z.string()),
  usage: z.record(z.string(), z.number()),
  receipt: ReceiptLinkSchema,
  toolCalls: z.array(z.object({ logIndex: z.number().int(), envelopeDigest: z.string() })),
});
export type RunResponse = z.infer<typeof RunResponseSchema>;

/** `POST /v1/agents/:id/migrate`: where the agent went, its state's digest, and the source's receipt. */
export const MigrationResponseSchema = z.object({
  agent: z.string(),
  source: z.string(),
  target: z.string(),
  stateDigest: z.string(),
  receipt: ReceiptLinkSchema,
});
export type MigrationResponse = z.infer<typeof MigrationResponseSchema>;

export const ContextValueSchema = z.object({ key: z.string(), value: z.unknown() });

export const ReceiptResponseSchema = z.object({
  index: z.number().int().nonnegative(),
  origin: z.string(),
  /** The DSSE envelope exactly as logged (parse of the logged JCS bytes). */
  envelope: z.record(z.string(), z.unknown()),
  /** c2sp.org/tlog-proof@v1 text proving the receipt is in the log. */
  proof: z.string(),
  /** The log's C2SP verifier key. */
  logKey: z.string(),
});
export type ReceiptResponse = z.infer<typeof ReceiptResponseSchema>;

export const QuotaUsageSchema = z.object({
  agent: z.string(),
  toolCalls: z.number(),
  llmTokens: z.number(),
  llmTokenBudget: z.number().optional(),
  rates: z.record(
    z.string(),
    z.object({ limit: z.string(), used: z.number(), available: z.number(), refused: z.number() }),
  ),
});
export type QuotaUsageView = z.infer<typeof QuotaUsageSchema>;

/** Every error answer: a stable code and a message that never echoes a secret. */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    quota: z.string().optional(),
    receipt: ReceiptLinkSchema.optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
