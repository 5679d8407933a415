import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GvisorTier } from '../../src/airlock/gvisor/tier.js';
import { HardenedTier } from '../../src/airlock/native/hardened.js';

/** The process tiers with egress through OACP's proxy, and whether this host has each. */
export const EGRESS_TIERS = [
  ['hardened', (await new HardenedTier().availability()).available],
  ['gvisor', (await new GvisorTier().availability()).available],
] as const;

/**
 * A python3 program that fetches each URL in argv through the sandbox's HTTP_PROXY and prints one
 * line per URL: `200 reached`, `<status> <x-oacp-egress-denied>` for a refusal, or `error <why>`.
 */
export const PROXY_FETCH = `
import sys, urllib.request, urllib.error
for url in sys.argv[1:]:
    try:
        print(urllib.request.urlopen(url, timeout=20).status, "reached", flush=True)
    except urllib.error.HTTPError as e:
        print(e.code, e.headers.get("x-oacp-egress-denied"), flush=True)
    except Exception as e:
        print("error", e, flush=True)
`;

/** A host daemon the attacks try to reach: it counts the requests that got to it. */
export interface HostDaemon {
  readonly port: number;
  hits(): number;
  close(): Promise<void>;
}

export async function hostDaemon(
  host: string,
  onRequest: (req: IncomingMessage) => void = () => undefined,
): Promise<HostDaemon> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    onRequest(req);
    res.end('host-daemon');
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
