import type { Handler } from 'hono';
import type { ApiScope } from '../apikeys/scopes.js';
import type { GatewayContext, GatewayEnv } from './env.js';

/** Who may call a route; declared beside each route, enforced by middleware before its handler runs. */
export type Access =
  /** No credentials: read-only data meant for anyone (receipts, the log), or requests that authenticate themselves (A2A). */
  | { readonly kind: 'public'; readonly why: string }
  /** An API key holding `scope`. */
  | { readonly kind: 'scope'; readonly scope: ApiScope }
  /** An API key holding `scope`, or any agent by signed request (the handler makes it act only as itself). */
  | { readonly kind: 'scope-or-agent'; readonly scope: ApiScope }
  /** An API key holding `scope`, or the agent named by the route's `:id` by signed request. */
  | { readonly kind: 'scope-or-self'; readonly scope: ApiScope }
  /** An agent: its own key (an API key bound to it) holding `scope`, or its signed request. */
  | { readonly kind: 'agent-key'; readonly scope: ApiScope };

export const open = (why: string): Access => ({ kind: 'public', why });
export const scope = (name: ApiScope): Access => ({ kind: 'scope', scope: name });
export const scopeOrAgent = (name: ApiScope): Access => ({ kind: 'scope-or-agent', scope: name });
export const scopeOrSelf = (name: ApiScope): Access => ({ kind: 'scope-or-self', scope: name });
export const agentKey = (name: ApiScope): Access => ({ kind: 'agent-key', scope: name });

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Records a request the route's access check refused for an authenticated caller, before the
 * error is answered (a tool call's refusal gets its receipt); its own failure is swallowed.
 */
export type RefusalRecorder = (c: GatewayContext, error: unknown) => Promise<void>;

/** A route as declared: method, path, access, handler; registered by mountRoutes. */
export interface Route {
  readonly method: Method;
  readonly path: string;
  readonly access: Access;
  readonly handler: Handler<GatewayEnv>;
  /** Told of the access check's refusal of an authenticated caller (see authorize.ts). */
  readonly refused?: RefusalRecorder;
}

/** One line per route: `route('GET', '/v1/agents', scope('agents:read'), handler)`. */
export function route(
  method: Method,
  path: string,
  access: Access,
  handler: Handler<GatewayEnv>,
  refused?: RefusalRecorder,
): Route {
  return { method, path, access, handler, ...(refused === undefined ? {} : { refused }) };
}

/** What a route requires, without its handler: what the route-table test walks. */
export type DeclaredRoute = Omit<Route, 'handler' | 'refused'>;
