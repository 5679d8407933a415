import { imitatedMemberName } from '../core/twin-names.js';
import { imitatedMethod } from './method-names.js';

/** At most this many refused calls of one malformed message are recorded one by one. */
export const MAX_RECORDED_PER_MESSAGE = 64;

export interface MalformedCalls {
  /** The params of each tools/call in the message (undefined when they are not an object). */
  readonly calls: Array<Readonly<Record<string, unknown>> | undefined>;
  /** Tool calls beyond MAX_RECORDED_PER_MESSAGE, recorded together. */
  readonly more: number;
}

/**
 * The tools/calls inside a message refused as invalid JSON-RPC (a batch array, which MCP
 * forbids, or an object with a bad `jsonrpc`, `id` or `params`): each is a refused call and
 * gets its receipt like any other refusal, though none is forwarded. A method that imitates
 * tools/call (see method-names.ts) counts as one.
 */
export function malformedCalls(raw: unknown): MalformedCalls {
  const elements = Array.isArray(raw) ? raw : [raw];
  const calls: Array<Readonly<Record<string, unknown>> | undefined> = [];
  let more = 0;
  for (const element of elements) {
    if (!isRecord(element)) continue;
    const method = methodOf(element);
    if (method === undefined) continue;
    if (method !== 'tools/call' && imitatedMethod(method) !== 'tools/call') continue;
    if (calls.length === MAX_RECORDED_PER_MESSAGE) more += 1;
    else calls.push(isRecord(element.params) ? element.params : undefined);
  }
  return { calls, more };
}

/**
 * Its method, or, with none, what a member imitating `method` names (`"Method": "tools/call"`,
 * which a server matching names loosely reads as the method).
 */
function methodOf(element: Readonly<Record<string, unknown>>): string | undefined {
  if (typeof element.method === 'string') return element.method;
  const imitating = imitatedMemberName(element, ['method'])?.[0];
  const method = imitating === undefined ? undefined : element[imitating];
  return typeof method === 'string' ? method : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
