import { z } from 'zod';
import { GatewayConfigSchema } from './schema.js';

/**
 * oacp.yaml as JSON Schema (draft 2020-12), generated from the one zod
 * schema both `oacp gateway --config` and `oacp mcp run --config` read.
 * Editors use it for completion; `oacp config check` remains the authority
 * (some rules, such as grant modes and durations, are checks the schema
 * can only describe as strings).
 */
export function oacpJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(GatewayConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://oacp.dev/schema/oacp.schema.json',
    title: 'oacp.yaml',
    description: 'OACP configuration: gateway, sandbox, attestation, mcp, a2a, otel, policies, quotas',
  };
}
