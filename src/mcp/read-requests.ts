import { boundedName } from '../core/clip-text.js';
import type { Decision } from '../core/decision.js';

/**
 * Client requests other than tools/call that reach data or act through the
 * server, and so go through the tool-call pipeline (call-pipeline.ts): each is
 * judged by Cedar as `Action::"<method>"` on the resource or prompt it names,
 * and gets one receipt whatever comes of it. `resources/read` is a read path
 * as real as a tool's: a `forbid` on a tool that reads a file would be moot
 * if the same server exposed the file as a resource and the read passed
 * unchecked.
 */
export const POLICED_READS = [
  'resources/read',
  'resources/subscribe',
  'prompts/get',
  'completion/complete',
] as const;

export type PolicedRead = (typeof POLICED_READS)[number];

const POLICED: ReadonlySet<string> = new Set(POLICED_READS);

export function isPolicedRead(method: string): method is PolicedRead {
  return POLICED.has(method);
}

/** The members of a policed request's params that name what it reads, and its `_meta`. */
export const READ_MEMBERS = ['uri', 'name', 'arguments', 'ref', '_meta'] as const;

/** Longest URI or prompt name a policed request may name (UTF-16 units); a longer one is refused. */
export const MAX_TARGET = 4096;

/** What a policed request names, once its params have the shape MCP defines. */
export interface ReadTarget {
  /** The Cedar resource: `Resource::"<uri>"` or `Prompt::"<name>"`. */
  readonly resource: { readonly type: 'Resource' | 'Prompt'; readonly id: string };
  /**
   * For a uri spelled otherwise than a URL parser reads it (canonicalUri): that reading, which
   * Cedar judges too, so a `forbid` on either spelling holds (call-gate.ts).
   */
  readonly canonical?: string;
  /** Its params as the server is sent them, `_meta` aside: Cedar's `context.arguments`, and what the receipt digests. */
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly meta: Readonly<Record<string, unknown>> | undefined;
}

export type ReadShape =
  | { readonly ok: true; readonly target: ReadTarget }
  | { readonly ok: false; readonly decision: Decision & { readonly effect: 'deny' } };

/**
 * The name a receipt gives a policed request in `tool.name`: `<method>:<uri>`,
 * `<method>:<prompt name>` (`completion/complete:ref/prompt:<name>` and
 * `completion/complete:ref/resource:<uri>`), bounded; `<method>:` alone when
 * the params named nothing usable.
 */
export function recordedReadName(method: PolicedRead, params: unknown): string {
  const record = isRecord(params) ? params : {};
  const target = nameOf(method, record);
  return boundedName(`${method}:${typeof target === 'string' ? target : ''}`, MAX_TARGET + 64);
}

function nameOf(method: PolicedRead, params: Readonly<Record<string, unknown>>): unknown {
  switch (method) {
    case 'resources/read':
    case 'resources/subscribe':
      return params.uri;
    case 'prompts/get':
      return params.name;
    case 'completion/complete': {
      const ref = isRecord(params.ref) ? params.ref : {};
      const id = ref.type === 'ref/prompt' ? ref.name : ref.uri;
      return typeof ref.type === 'string' && typeof id === 'string' ? `${ref.type}:${id}` : undefined;
    }
  }
}

/** The first step for a policed request: the params must name what MCP says they name. */
export function checkReadShape(method: PolicedRead, params: unknown): ReadShape {
  if (params !== undefined && !isRecord(params)) return refuse(`${method} params must be an object`);
  const record = params ?? {};
  const meta = record._meta;
  if (meta !== undefined && !isRecord(meta)) {
    return refuse(`${method} "_meta" must be an object or absent`);
  }
  const { _meta: _dropped, ...args } = record;
  const named = target(method, record);
  if (typeof named === 'string') return refuse(named);
  const canonical =
    named.type === 'Resource' && method !== 'completion/complete' ? canonicalUri(named.id) : named.id;
  return {
    ok: true,
    target: { resource: named, ...(canonical === named.id ? {} : { canonical }), arguments: args, meta },
  };
}

function target(
  method: PolicedRead,
  params: Readonly<Record<string, unknown>>,
): ReadTarget['resource'] | string {
  switch (method) {
    case 'resources/read':
    case 'resources/subscribe':
      return named('Resource', params.uri, `${method} "uri"`);
    case 'prompts/get': {
      const args = params.arguments;
      if (args !== undefined && !isRecord(args)) return `prompts/get "arguments" must be an object or absent`;
      return named('Prompt', params.name, 'prompts/get "name"');
    }
    case 'completion/complete': {
      const ref = params.ref;
      if (!isRecord(ref)) return 'completion/complete "ref" must be an object';
      if (ref.type === 'ref/prompt') return named('Prompt', ref.name, 'completion/complete "ref.name"');
      if (ref.type === 'ref/resource') return named('Resource', ref.uri, 'completion/complete "ref.uri"');
      return 'completion/complete "ref.type" must be "ref/prompt" or "ref/resource"';
    }
  }
}

function named(type: 'Resource' | 'Prompt', id: unknown, field: string): ReadTarget['resource'] | string {
  if (typeof id !== 'string' || id === '') return `${field} must be a non-empty string`;
  if (id.length > MAX_TARGET)
    return `${field} is ${id.length} characters, more than the ${MAX_TARGET} allowed`;
  return { type, id };
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * How a URL parser reads a resource uri: what it
 * makes of it (scheme and host lowercased, `file://localhost/` as `file:///`,
 * `.` and `..` segments resolved, `\\` as `/` in special schemes), with
 * percent-escapes of unreserved characters decoded and the others'
 * hex in capitals, no fragment or empty query, and for `file:` no query at
 * all, repeated slashes as one and no trailing slash. A server that reads `file:///etc/%70asswd` or
 * `file:///tmp/../etc/passwd` through a URL parser reads /etc/passwd, which a
 * forbid on `Resource::"file:///etc/passwd"` would not match as written; so
 * Cedar judges this reading as well as the spelling sent (the server is sent
 * the uri untouched, as servers list uris that are not canonical). A uri no
 * URL parser reads (`x`) is judged as written.
 */
export function canonicalUri(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return uri;
  }
  url.hash = '';
  if (url.search === '') url.search = '';
  if (url.protocol === 'file:') {
    // A file path has no query, and `/etc//passwd` and `/etc/passwd/` name /etc/passwd too.
    url.search = '';
    url.pathname = url.pathname.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
  }
  const href = url.href.replace(/#$/, '').replace(/\?$/, '');
  return href.replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

function refuse(reason: string): ReadShape {
  return { ok: false, decision: { effect: 'deny', reason } };
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
