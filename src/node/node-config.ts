import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { sha256Hex } from '../core/digest.js';
import { OacpError } from '../core/errors.js';
import { NODE_CONFIG_FILE } from '../identity/home-layout.js';

export type NodeErrorCode = 'NODE_CONFIG_INVALID' | 'NODE_CONFIG_MISSING';

/** A log origin doubles as the note key name: no spaces, no '+', printable. */
const Origin = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._~:/-]{0,199}$/, 'must be a schema-less URL such as oacp.example.com/log');

export const NodeConfigSchema = z.strictObject({
  version: z.literal(1),
  origin: Origin,
});
export type NodeConfig = z.infer<typeof NodeConfigSchema>;

/** A default origin unique to this host and log key, e.g. `oacp.local/build-1/4f2a91c0`. */
export function defaultOrigin(logPublicKey: Uint8Array): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, '-')
      .slice(0, 60) || 'host';
  return `oacp.local/${host}/${sha256Hex(logPublicKey).slice(0, 8)}`;
}

export function parseOrigin(value: string): string {
  const parsed = Origin.safeParse(value);
  if (!parsed.success) {
    throw new OacpError<NodeErrorCode>(
      'NODE_CONFIG_INVALID',
      `origin: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

export function nodeConfigPath(home: string): string {
  return join(home, NODE_CONFIG_FILE);
}

export function readNodeConfig(home: string): NodeConfig {
  const path = nodeConfigPath(home);
  if (!existsSync(path)) {
    throw new OacpError<NodeErrorCode>('NODE_CONFIG_MISSING', `${path} is missing; run \`oacp init\` first`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new OacpError<NodeErrorCode>('NODE_CONFIG_INVALID', `${path} is not valid JSON`);
  }
  const parsed = NodeConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OacpError<NodeErrorCode>(
      'NODE_CONFIG_INVALID',
      `${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

export function writeNodeConfig(home: string, config: NodeConfig): void {
  writeFileSync(nodeConfigPath(home), `${JSON.stringify(NodeConfigSchema.parse(config), null, 2)}\n`, {
    mode: 0o644,
  });
}
