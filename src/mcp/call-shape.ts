import type { Decision } from '../core/decision.js';

/** A tools/call's params once their shape is known good. */
export interface CallShape {
  readonly tool: string;
  /** Exactly as the client sent them; `{}` stands for absent arguments. */
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly meta: Readonly<Record<string, unknown>> | undefined;
}

export type ShapeCheck =
  | { readonly ok: true; readonly call: CallShape }
  | {
      readonly ok: false;
      readonly decision: Decision & { readonly effect: 'deny' };
      /** The tool name for the receipt: the one given, or a placeholder naming the defect. */
      readonly tool: string;
    };

/** Receipts need a tool name; a call that gave none is recorded under this one. */
export const NO_TOOL_NAME = '(no tool name)';

/**
 * The first step of every tools/call: the params must have the shape MCP
 * defines. `arguments` must be an object or absent: an array (or any other
 * value) is refused, never replaced by `{}`, because the policy and the
 * receipt must judge what the server would be sent.
 */
export function checkCallShape(params: Readonly<Record<string, unknown>> | undefined): ShapeCheck {
  const name = params?.name;
  if (typeof name !== 'string' || name === '') {
    return refuse('tools/call needs a non-empty string "name"', NO_TOOL_NAME);
  }
  const args = params?.arguments;
  if (args !== undefined && !isRecord(args)) {
    return refuse(`tools/call "arguments" must be an object or absent, not ${kindOf(args)}`, name);
  }
  const meta = params?._meta;
  if (meta !== undefined && !isRecord(meta)) {
    return refuse(`tools/call "_meta" must be an object or absent, not ${kindOf(meta)}`, name);
  }
  return { ok: true, call: { tool: name, arguments: args ?? {}, meta } };
}

function refuse(reason: string, tool: string): ShapeCheck {
  return { ok: false, decision: { effect: 'deny', reason }, tool };
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
