import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';
import { type McpRunOptions, parseMcpRunOptions } from './options.js';

/** Keys a server entry may set: the per-server flags of `oacp mcp run`. */
const ServerEntrySchema = z.strictObject({
  command: z.array(z.string().min(1)).min(1),
  tier: z.string().optional(),
  allowFiles: z.array(z.string()).optional(),
  allowNetwork: z.array(z.string()).optional(),
  allowEnv: z.array(z.string()).optional(),
  quotaMemory: z.string().optional(),
  quotaCpu: z.string().optional(),
  quotaCalls: z.string().optional(),
  tools: z.array(z.string()).optional(),
  policy: z.string().optional(),
  pins: z.string().optional(),
  requireApproval: z.array(z.string()).optional(),
  manifest: z.string().optional(),
});

/** Server names prefix tool names as `<server>__<tool>`, so they cannot contain `__` themselves. */
const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,31}$/;

/** The `mcp:` block of oacp.yaml; other top-level blocks belong to other commands and are left alone. */
export const McpConfigSchema = z.object({
  mcp: z.strictObject({
    servers: z.record(z.string(), ServerEntrySchema).superRefine((servers, ctx) => {
      const names = Object.keys(servers);
      if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'name at least one server' });
      for (const name of names.filter((each) => !SERVER_NAME.test(each))) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'a server name is letters, digits, . and - (no "__"), at most 32',
        });
      }
    }),
  }),
});

/**
 * Reads `--config`: each server's options, parsed exactly as its flags would
 * be, with the command line's shared options (approval timeout, attest level,
 * receipt acknowledgement) applied to all.
 */
export function loadMcpConfig(path: string, shared: McpRunOptions): Map<string, McpRunOptions> {
  let document: unknown;
  try {
    document = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new OacpError<McpErrorCode>(
      'MCP_CONFIG',
      `cannot read ${path}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
  const parsed = McpConfigSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OacpError<McpErrorCode>(
      'MCP_CONFIG',
      `${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const servers = new Map<string, McpRunOptions>();
  for (const [name, entry] of Object.entries(parsed.data.mcp.servers)) {
    try {
      servers.set(
        name,
        parseMcpRunOptions({
          ...entry,
          name,
          approvalTimeout: `${shared.approvalTimeout}ms`,
          attestLevel: shared.attestLevel,
          receiptAck: shared.receiptAck,
          ...(shared.agent === undefined ? {} : { agent: shared.agent }),
        }),
      );
    } catch (error) {
      throw new OacpError<McpErrorCode>(
        'MCP_CONFIG',
        `${path}: mcp.servers.${name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return servers;
}
