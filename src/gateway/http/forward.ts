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

/**
 * Hands a request to the node that runs the agent, with the caller's credentials, and relays its
 * answer; over the cluster's mutual TLS when it has one (GatewayCluster.fetch).
 */
export async function forward(
  request: Request,
  body: Uint8Array,
  owner: URL,
  clusterFetch: typeof fetch,
): Promise<Response> {
  const target = new URL(new URL(request.url).pathname, owner);
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    if (!['host', 'content-length', 'connection'].includes(name.toLowerCase())) headers.set(name, value);
  }
  headers.set(FORWARDED_HEADER, String(hopsOf(request) + 1));
  const answer = await clusterFetch(target, { method: request.method, headers, body: Buffer.from(body) });
  return new Response(await answer.arrayBuffer(), {
    status: answer.status,
    headers: { 'content-type': answer.headers.get('content-type') ?? 'application/json' },
  });
}
