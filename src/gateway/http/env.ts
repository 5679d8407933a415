import type { Span } from '@opentelemetry/api';
import type { Context } from 'hono';
import type { z } from 'zod';
import { parseBoundedJson } from '../../core/bounded-json.js';
import type { Principal } from './auth.js';
import { httpError } from './errors.js';

/** Per-request values the middleware sets for the routes. */
export interface GatewayEnv {
  Variables: {
    requestId: string;
    span: Span;
    /** The raw request body (empty for GET), read once, on first call, under the body limit; signed requests cover these bytes. */
    readBody: () => Promise<Uint8Array>;
    principal: Principal;
  };
}

export type GatewayContext = Context<GatewayEnv>;

/**
 * How deep a request body may nest (the body object itself is level 1). Tool
 * arguments, run input and context values all arrive in a body, and what
 * follows (receipt digests, policy contexts, the sandbox boundary) must never
 * meet a value it cannot handle.
 */
export const MAX_BODY_DEPTH = 64;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the body as JSON (UTF-8, nested at most MAX_BODY_DEPTH) and parses it
 * with `schema`; every refusal is a 400 naming what to fix, never a 500.
 */
export async function parseBody<S extends z.ZodType>(c: GatewayContext, schema: S): Promise<z.output<S>> {
  const bytes = await c.var.readBody();
  let json: unknown = {};
  if (bytes.length > 0) {
    let text: string;
    try {
      text = UTF8.decode(bytes);
    } catch {
      throw httpError('BAD_REQUEST', 'the request body is not UTF-8 text');
    }
    const parsed = parseBoundedJson(text, MAX_BODY_DEPTH, 'the request body');
    if (!parsed.ok) throw httpError('BAD_REQUEST', parsed.reason);
    json = parsed.value;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw httpError(
      'BAD_REQUEST',
      `${issue?.path.map(String).join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}
