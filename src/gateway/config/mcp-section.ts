import { z } from 'zod';
import {
  CallRate,
  Duration,
  FileGrant,
  LIGHT_APPROVAL_REFUSAL,
  MemorySize,
  NetworkGrant,
} from '../../mcp/options.js';
import { SERVER_NAME_PATTERN, serverNameProblem } from '../../mcp/tool-names.js';
import { bool, oneOf, positiveInt, TierNameSchema, text, unitString } from './fields.js';

const ServerName = z
  .string({ error: 'expected a string' })
  // One naming rule (src/mcp/tool-names.ts): tools are `<server>__<tool>` in the bridge and the gateway.
  .regex(SERVER_NAME_PATTERN, { error: (issue) => serverNameProblem(String(issue.input)) })
  .refine((name) => serverNameProblem(name) === undefined, {
    error: (issue) => serverNameProblem(String(issue.input)),
  });

const strings = () => z.array(text(), { error: 'expected a list of strings' });

const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** A tool's attributes as the global policies read them (`resource.<name>`). */
const ToolAttributes = z
  .record(
    z.string(),
    z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, a number or true/false' }),
    {
      error: (issue) =>
        issue.code === 'invalid_type' ? 'expected a mapping of attribute name to value' : undefined,
    },
  )
  .superRefine((attributes, ctx) => {
    for (const name of Object.keys(attributes)) {
      if (!ATTRIBUTE_NAME.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'attribute names are 1-64 letters, digits and _ (not starting with a digit)',
        });
      }
    }
  });

/**
 * One MCP server the gateway fronts: the YAML twin of `oacp mcp run` flags
 * (`allow_files` is `--allow-files`, and so on), so a server moves between
 * the command line and the config file unchanged.
 */
export const McpServerSchema = z
  .strictObject({
    name: ServerName,
    /** Executable to start (stdio); give `command` or `url`, not both. */
    command: text().optional(),
    args: strings().default([]),
    /** Remote MCP server over Streamable HTTP. */
    url: z.url({ error: 'expected a URL' }).optional(),
    tier: TierNameSchema.default('hardened'),
    /** Capability manifest file (YAML/JSON, or a signed DSSE envelope). */
    manifest: text().optional(),
    allow_files: z
      .array(
        z.string({ error: 'expected a string' }).superRefine((value, ctx) => {
          // A relative path is resolved against the file's folder afterwards; its mode is checked here.
          const grant = FileGrant.safeParse(value.startsWith('/') ? value : `/${value}`);
          if (!grant.success) {
            ctx.addIssue({ code: 'custom', message: grant.error.issues[0]?.message ?? 'invalid grant' });
          }
        }),
        { error: 'expected a list of strings' },
      )
      .default([]),
    // The same refusal as `--allow-network` (loopback is the host's), reported by `oacp config check` too.
    allow_network: z.array(NetworkGrant, { error: 'expected a list of strings' }).default([]),
    allow_env: strings().default([]),
    /** `--allow-unix-sockets`: socket(AF_UNIX) in the hardened tier (headless browsers). */
    allow_unix_sockets: bool().default(false),
    /** `--no-node-preload` (false): no Node preload routing fetch and node:http(s) through the egress proxy. */
    node_preload: bool().default(true),
    quota_memory: unitString(MemorySize, 'expected a size such as 256mb or 1g').optional(),
    /** `--quota-tmp`: the server's /tmp (also its HOME), a tmpfs. */
    quota_tmp: unitString(MemorySize, 'expected a size such as 256mb or 1g').optional(),
    quota_cpu: unitString(Duration, 'expected a duration such as 500ms, 2s or 1m').optional(),
    quota_startup_cpu: unitString(Duration, 'expected a duration such as 500ms, 2s or 1m').optional(),
    quota_calls: unitString(CallRate, 'expected a rate such as 60/min, 5/s or 1000/h').optional(),
    tools: strings().default([]),
    policy: text().optional(),
    pins: text().optional(),
    require_approval: strings().default([]),
    /** Argument fields (or "*") whose values the console shows for a pending approval; others are hidden. */
    approval_show_arguments: strings().default([]),
    approval_timeout: unitString(Duration, 'expected a duration such as 500ms, 2s or 1m').optional(),
    attest_level: oneOf(['basic', 'standard'] as const).default('basic'),
    agent: text().optional(),
    learn: bool().default(false),
    /** Attributes of this server's tools for the global policies, by the tool's upstream name. */
    tool_attributes: z
      .record(z.string(), ToolAttributes, {
        error: (issue) =>
          issue.code === 'invalid_type' ? 'expected a mapping of tool name to attributes' : undefined,
      })
      .default({}),
  })
  .superRefine((server, ctx) => {
    if ((server.command === undefined) === (server.url === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'give exactly one of command or url' });
    }
    if (server.url !== undefined && server.args.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['args'], message: 'args apply to command, not to url' });
    }
    if (server.allow_unix_sockets && server.tier !== 'hardened') {
      // The other tiers have their own rule (gVisor: its own sockets only; standard: none): a key that
      // changes nothing there would read as a grant.
      ctx.addIssue({
        code: 'custom',
        path: ['allow_unix_sockets'],
        message: `applies to the hardened tier only (this server's tier is ${server.tier}); remove it or set tier: hardened`,
      });
    }
    if (server.tier === 'light' && server.require_approval.length > 0) {
      // The same rule as the flags' (mcp/options.ts), said here so `oacp config check` finds it.
      ctx.addIssue({ code: 'custom', path: ['tier'], message: LIGHT_APPROVAL_REFUSAL });
    }
    if (server.attest_level === 'standard' && server.agent === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['agent'],
        message: 'attest_level standard needs agent (the agent key that co-signs receipts)',
      });
    }
  });

export const McpSectionSchema = z
  .strictObject({
    servers: z.array(McpServerSchema, { error: 'expected a list of servers' }).default([]),
    /**
     * `--refusal-receipts N` of `oacp mcp run --config` (the flag wins): refused client messages
     * receipted one by one per session and minute, ten times that for all sessions of a server
     * (src/mcp/refusal-receipts.ts; default 30).
     */
    refusal_receipts: positiveInt().max(100_000, { error: 'must be from 1 to 100000' }).optional(),
  })
  .superRefine((section, ctx) => {
    const seen = new Set<string>();
    section.servers.forEach((server, index) => {
      if (seen.has(server.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['servers', index, 'name'],
          message: `duplicate server name "${server.name}"`,
        });
      }
      seen.add(server.name);
    });
  });

export type McpServerConfig = z.output<typeof McpServerSchema>;
