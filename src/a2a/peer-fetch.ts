import { hostLoopbackReason, specialDestinationReason } from '../capability/address-policy.js';
import { canonicalHost, sameHost } from '../capability/host.js';

/**
 * How OACP's A2A client reaches a peer it does not control. Two rules keep a
 * peer from steering the caller's requests where the caller did not point it:
 *
 * - a redirect is followed only within the origin that was asked (and only for
 *   GET/HEAD: a POST carries a signed message, which goes nowhere but where the
 *   card said); any other redirect is an error, so a card URL cannot bounce the
 *   caller to the cloud metadata service or a loopback port;
 * - a URL a card names (its interface, its receipts) may be a loopback,
 *   private or metadata destination only when the card itself came from that
 *   host (or both are loopback): a card served from a public host cannot make
 *   the caller POST into its own network (server-side request forgery).
 */

/** Most same-origin redirects one request follows. */
const MAX_REDIRECTS = 5;

export function sameOriginFetch(fetchImpl: typeof fetch): typeof fetch {
  return async (input, init) => {
    let url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    for (let hops = 0; ; hops += 1) {
      const response = await fetchImpl(hops === 0 ? input : url, { ...init, redirect: 'manual' });
      if (response.status < 300 || response.status > 399 || !response.headers.has('location'))
        return response;
      await response.body?.cancel().catch(() => undefined);
      const target = new URL(response.headers.get('location') ?? '', url);
      if (target.origin !== url.origin) {
        throw new Error(`${url.origin} redirects to another origin (${target.origin}); not followed`);
      }
      if (method !== 'GET' && method !== 'HEAD') {
        throw new Error(`${url.origin} answered a ${method} with a redirect; not followed`);
      }
      if (hops + 1 > MAX_REDIRECTS)
        throw new Error(`${url.origin} redirects more than ${MAX_REDIRECTS} times`);
      url = target;
    }
  };
}

/**
 * Why a card fetched from `cardUrl` may not send the caller to `target`, or
 * undefined when it may: `target` is refused when it is a loopback, private,
 * link-local (cloud metadata) or otherwise non-public destination that is not
 * the card's own host, unless both are loopback (`localhost` and `127.0.0.1`).
 * Names are judged as written; a public name that resolves to a private
 * address is not caught here.
 */
export function cardDestinationReason(cardUrl: string, target: string): string | undefined {
  let to: URL;
  try {
    to = new URL(target);
  } catch {
    return `${JSON.stringify(target.slice(0, 120))} is not a URL`;
  }
  if (to.protocol !== 'http:' && to.protocol !== 'https:') return `${to.protocol} is not http(s)`;
  const toHost = canonicalHost(to.hostname);
  const fromHost = canonicalHost(new URL(cardUrl).hostname);
  if (toHost === undefined) return `${JSON.stringify(to.hostname.slice(0, 120))} is not a host name`;
  const special = specialDestinationReason(toHost);
  if (special === undefined) return undefined;
  if (fromHost !== undefined && sameHost(fromHost, toHost)) return undefined;
  if (
    fromHost !== undefined &&
    hostLoopbackReason(fromHost) !== undefined &&
    hostLoopbackReason(toHost) !== undefined
  ) {
    return undefined;
  }
  return `${special}, and the card came from ${fromHost ?? new URL(cardUrl).hostname}`;
}
