import { numberOutOfRange } from '../core/bounded-json.js';

/**
 * Limits every JSON-RPC message must meet, in both directions, before the
 * bridge acts on it. Size is bounded where bytes arrive (the line framing, the
 * HTTP body limit); depth is bounded here, because a value nested thousands of
 * levels deep breaks every recursive consumer after the bridge (JSON.stringify
 * in a transport, a server's parser, a client's renderer).
 */
export interface MessageLimits {
  /** Deepest nesting of arrays and objects in one message, the envelope itself counting as 1. */
  readonly maxDepth: number;
}

/** MCP messages (tool schemas, arguments, results) seldom nest past 20; 128 leaves room and stops abuse. */
export const DEFAULT_MESSAGE_LIMITS: MessageLimits = { maxDepth: 128 };

/** The nesting depth of a JSON value (0 for a scalar), measured without recursion, stopping past `limit`. */
export function depthOf(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  return walk(value, limit).depth;
}

/**
 * Depth, and whether a number is not finite (±Infinity: a parser read `1e400`), in one pass
 * without recursion. The transports refuse such numbers as they parse; this catches what reaches
 * the bridge another way (an SDK transport, an in-process caller), before anything is forwarded.
 */
function walk(value: unknown, limit: number): { depth: number; nonFinite: boolean } {
  let deepest = 0;
  let nonFinite = typeof value === 'number' && !Number.isFinite(value);
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return { depth: deepest, nonFinite };
    const children = Array.isArray(item.value) ? item.value : Object.values(item.value);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
      else if (typeof child === 'number' && !Number.isFinite(child)) nonFinite = true;
    }
  }
  return { depth: deepest, nonFinite };
}

/** Undefined when the message is within the limits; else why not, in one line. */
export function exceedsLimits(message: unknown, limits: MessageLimits): string | undefined {
  const { depth, nonFinite } = walk(message, limits.maxDepth);
  if (depth > limits.maxDepth)
    return `message nests deeper than ${limits.maxDepth} levels (the bridge's depth limit)`;
  return nonFinite ? numberOutOfRange('message', '') : undefined;
}
