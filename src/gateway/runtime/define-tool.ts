import { z } from 'zod';
import { OacpError } from '../../core/errors.js';
import type { InjectedSecrets } from '../credentials/injected-secrets.js';
import type { RuntimeErrorCode } from './errors.js';

/** Attribute values a policy can read from a tool (`resource.<name>` in the gateway's Cedar policies). */
export type ToolAttributes = Readonly<Record<string, string | number | boolean>>;

/** What a native tool learns about the call it serves. */
export interface ToolContext {
  /** The calling agent's name and did:key. */
  readonly agent: { readonly name: string; readonly did: string };
  /** Aborted when the caller goes away or the gateway shuts down. */
  readonly signal: AbortSignal;
  /**
   * Charges LLM tokens to the agent's budget; throws a quota refusal (HTTP 429,
   * quota `agent.llm_tokens`) when the budget or the per-request cap would be exceeded.
   * Await it: the budget is kept in the store, and the charge is only made once it resolves.
   */
  chargeTokens(tokens: number): Promise<void>;
  /**
   * The credentials stored for this agent and tool (docs/context-vault.md), read
   * when asked for. Put them into the outgoing request's headers or the
   * environment of what the tool runs; never into the result, which is digested
   * into a public receipt.
   */
  credentials(): Promise<InjectedSecrets>;
}

export interface NativeToolDefinition<S extends z.ZodType> {
  /** Letters, digits, `.`, `_`, `-`; how agents and policies name the tool. */
  readonly name: string;
  readonly description?: string;
  /** Arguments are parsed with this schema before anything runs; a failure is a 400 with its receipt, the tool never run. */
  readonly input: S;
  readonly attributes?: ToolAttributes;
  run(args: z.output<S>, context: ToolContext): unknown;
}

/** A registered native tool: its definition plus the JSON Schema clients see. */
export interface NativeTool {
  readonly kind: 'native';
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly attributes: ToolAttributes;
  /** Parses arguments; returns the parsed value or a message naming the first bad field. */
  parse(args: unknown): { ok: true; value: unknown } | { ok: false; reason: string };
  run(args: unknown, context: ToolContext): Promise<unknown>;
}

const TOOL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Defines a tool written in TypeScript. The zod schema is the contract: it
 * validates arguments at the boundary and is published as JSON Schema in the
 * tools list. The result must be JSON (it is digested into the receipt).
 */
export function defineTool<S extends z.ZodType>(definition: NativeToolDefinition<S>): NativeTool {
  if (!TOOL_NAME.test(definition.name)) {
    throw new OacpError<RuntimeErrorCode>(
      'RUNTIME_TOOL_ARGUMENTS',
      `tool name ${JSON.stringify(definition.name)} must be letters, digits, . _ - (at most 128)`,
    );
  }
  const inputSchema = jsonSchemaOf(definition.input);
  return {
    kind: 'native',
    name: definition.name,
    description: definition.description ?? '',
    inputSchema,
    attributes: { ...(definition.attributes ?? {}) },
    parse(args) {
      const parsed = definition.input.safeParse(args);
      if (parsed.success) return { ok: true, value: parsed.data };
      const issue = parsed.error.issues[0];
      const path = issue?.path.map(String).join('.') || '(arguments)';
      return { ok: false, reason: `${path}: ${issue?.message ?? 'invalid'}` };
    },
    async run(args, context) {
      return definition.run(args as z.output<S>, context);
    },
  };
}

function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  try {
    const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { unrepresentable: 'any' }) as Record<
      string,
      unknown
    >;
    return rest;
  } catch {
    // A schema with transforms or refinements JSON Schema cannot express: publish the loosest true statement.
    return { type: 'object' };
  }
}
