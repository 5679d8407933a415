import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { OacpError } from '../core/errors.js';
import type { McpErrorCode } from './errors.js';
import { parseMcpRunOptions } from './options.js';
import { draftManifest, inspectServer, type ServerInventory } from './package.js';
import type { TierLookup } from './tiers.js';
import { upstreamFor } from './upstream-from-options.js';

export const McpPackageOptionsSchema = z.strictObject({
  command: z.array(z.string().min(1)).min(1, 'give the server command after --'),
  tier: z.string().default('hardened'),
  name: z.string().optional(),
  /** Variables the server needs even to list its tools (API keys read at start, say). */
  allowEnv: z.array(z.string().min(1)).default([]),
  /** Where to write the draft manifest (YAML); without it the caller prints it. */
  out: z.string().min(1).optional(),
});
export type McpPackageOptionsInput = z.input<typeof McpPackageOptionsSchema>;

/**
 * `oacp mcp package [--tier T] [--out FILE] -- COMMAND [ARGS...]`: starts the
 * server locked down, lists its tools, resources and prompts, and returns (and
 * with `out`, writes) a draft manifest allowing exactly those tools.
 */
export async function packageMcpCommand(
  input: McpPackageOptionsInput,
  context: {
    readonly env?: Readonly<Record<string, string | undefined>>;
    /** The OACP home, whose package store serves npm:/npx servers. */
    readonly home?: string;
    readonly tiers?: TierLookup;
    readonly log?: (line: string) => void;
  } = {},
): Promise<{ inventory: ServerInventory; yaml: string }> {
  const parsed = McpPackageOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OacpError<McpErrorCode>(
      'MCP_BAD_OPTIONS',
      `${String(issue?.path[0] ?? 'options')}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const options = parsed.data;
  const runOptions = parseMcpRunOptions({
    command: options.command,
    tier: options.tier,
    allowEnv: options.allowEnv,
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  const log = context.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const connector = await upstreamFor(runOptions, context, log);
  const inventory = await inspectServer(connector);
  const { yaml } = draftManifest(inventory);
  if (options.out !== undefined) writeFileSync(options.out, yaml, { mode: 0o644 });
  return { inventory, yaml };
}
