import { boundedName } from '../core/clip-text.js';
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

/** The members MCP defines in a tools/call's params (`task`: a task-augmented call). */
export const TOOL_CALL_MEMBERS = ['name', 'arguments', '_meta', 'task'] as const;

/** Receipts need a tool name; a call that gave none is recorded under this one. */
export const NO_TOOL_NAME = '(no tool name)';

/**
 * Longest tool name a call may give (UTF-16 units; MCP asks for 128 at most, `<server>__<tool>`
 * leaves room for the server's). A longer one is refused before it is forwarded, and its
 * receipt names it bounded (`boundedName`): a name of any length in a receipt could outgrow
 * the log's entries, and the call would have run with no receipt.
 */
export const MAX_TOOL_NAME = 256;

/** The tool name a receipt gives a call: as the client gave it, bounded, or NO_TOOL_NAME. */
export function recordedToolName(name: unknown): string {
  return typeof name === 'string' && name !== '' ? boundedName(name, MAX_TOOL_NAME) : NO_TOOL_NAME;
}

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
  if (name.length > MAX_TOOL_NAME) {
    return refuse(
      `tools/call "name" is ${name.length} characters, longer than the ${MAX_TOOL_NAME} a tool name may be`,
      recordedToolName(name),
    );
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
