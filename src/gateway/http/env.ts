import type { Span } from '@opentelemetry/api';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { Principal } from './auth.js';
import { httpError } from './errors.js';

/** Per-request values the middleware sets for the routes. */
export interface GatewayEnv {
  Variables: {
    requestId: string;
    span: Span;
    /** The raw request body (empty for GET), read once under the size limit; signed requests cover these bytes. */
    body: Uint8Array;
    principal: Principal;
  };
}

export type GatewayContext = Context<GatewayEnv>;

/** Parses the raw body as JSON with `schema`; a 400 names the first bad field. */
export function parseBody<S extends z.ZodType>(c: GatewayContext, schema: S): z.output<S> {
  const bytes = c.get('body');
  let json: unknown;
  try {
    json = bytes.length === 0 ? {} : JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw httpError('BAD_REQUEST', 'the request body is not valid JSON');
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
