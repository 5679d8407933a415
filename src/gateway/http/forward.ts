import { clusterError } from '../../cluster/errors.js';

/**
 * Marks a request one node handed to another, with the number of hops so
 * far: a node forwards a fresh request to the owner once, and a forwarded
 * one again only when the agent moved away while it waited (a migration), so
 * a request makes at most MAX_HOPS hops and never loops.
 */
export const FORWARDED_HEADER = 'x-oacp-forwarded';
export const MAX_HOPS = 2;

/** Hops the request has made (0: straight from the client). */
export function hopsOf(request: Request): number {
  const hops = Number(request.headers.get(FORWARDED_HEADER) ?? 0);
  return Number.isInteger(hops) && hops >= 0 ? hops : MAX_HOPS;
}

/** Response headers that describe one hop's connection, not the answer: never relayed. */
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
]);

/**
 * Hands a request to the node that runs the agent, with the caller's credentials, and relays its
 * answer unchanged (status, headers, and the body as it arrives, so a server-sent event stream
 * is relayed event by event); over the cluster's mutual TLS when it has one (GatewayCluster.fetch).
 */
export async function forward(
  request: Request,
  body: Uint8Array,
  owner: URL,
  clusterFetch: typeof fetch,
): Promise<Response> {
  // The owner's origin with the request's path set on it: resolving the path against the owner
  // instead would read a path of two leading slashes as another host, given the caller's credentials.
  const target = new URL(owner.origin);
  target.pathname = new URL(request.url).pathname;
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    if (!['host', 'content-length', 'connection'].includes(name.toLowerCase())) headers.set(name, value);
  }
  headers.set(FORWARDED_HEADER, String(hopsOf(request) + 1));
  let answer: Response;
  try {
    answer = await clusterFetch(target, {
      method: request.method,
      headers,
      // A GET (an agent card) carries no body; fetch refuses one.
      ...(request.method === 'GET' || request.method === 'HEAD' ? {} : { body: Buffer.from(body) }),
      // The caller hung up: the owner's side of the relay is closed too.
      signal: request.signal,
    });
  } catch (error) {
    // The owner is gone or refused the members' TLS check: a 503, never a 500. The answer goes to
    // the caller, so it names no member's internal URL; the cause (with it) goes to the log.
    throw clusterError('CLUSTER_UNAVAILABLE', 'the node that runs the agent did not answer; retry', error);
  }
  const relayed = new Headers();
  for (const [name, value] of answer.headers)
    if (!HOP_HEADERS.has(name.toLowerCase())) relayed.set(name, value);
  if (!relayed.has('content-type')) relayed.set('content-type', 'application/json');
  return new Response(answer.body, { status: answer.status, headers: relayed });
}

/** What forwardToOwner needs of the cluster member and the runtime (GatewayCluster, AgentRuntime). */
export interface OwnerLookup {
  ownerElsewhere(agent: string): Promise<URL | undefined>;
  readonly fetch: typeof fetch;
}

/**
 * The owner's answer when another node runs the agent and the request came straight from a
 * client; undefined when this node answers (it runs the agent, nobody does, or the request was
 * already forwarded once). A node cut off from etcd throws CLUSTER_NOT_OWNER (503).
 */
export async function forwardToOwner(
  cluster: OwnerLookup,
  runsHere: boolean,
  agent: string,
  request: Request,
  body: Uint8Array,
): Promise<Response | undefined> {
  if (runsHere || hopsOf(request) > 0) return undefined;
  const owner = await cluster.ownerElsewhere(agent);
  return owner === undefined ? undefined : forward(request, body, owner, cluster.fetch);
}

/** What forwardOrAwaitOwner needs besides OwnerLookup: GatewayCluster.awaitOwner. */
export interface OwnerWait extends OwnerLookup {
  awaitOwner(agent: string, mayForward: boolean): Promise<'here' | URL>;
}

/**
 * forwardToOwner for a request that runs the agent (an A2A `POST /a2a/<agent>`), which also waits
 * while the agent is between owners, as the run route does: a request that reaches the new owner
 * before its etcd watch names it the owner or while it is still starting the sandbox (`status`
 * 'restarting'), or that another node handed on just before a migration, waits (bounded) until
 * the agent runs here (undefined: answer here) or follows it once more while it may make another
 * hop. It has run nowhere yet, so it runs once. GETs are answered as forwardToOwner does.
 */
export async function forwardOrAwaitOwner(
  cluster: OwnerWait,
  status: () => string,
  agent: string,
  request: Request,
  body: Uint8Array,
): Promise<Response | undefined> {
  const answer = await forwardToOwner(cluster, status() !== 'stopped', agent, request, body);
  if (answer !== undefined || request.method !== 'POST') return answer;
  if (status() !== 'stopped' && status() !== 'restarting') return undefined;
  const where = await cluster.awaitOwner(agent, hopsOf(request) < MAX_HOPS);
  return where === 'here' ? undefined : forward(request, body, where, cluster.fetch);
}
