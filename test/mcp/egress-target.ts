/**
 * What the network-budget tests share: the fetching server fixture, the host's own non-loopback
 * address (loopback grants are refused: they would reach the host) and an HTTP target there that
 * counts the requests it really received.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { HardenedTier } from '../../src/airlock/native/hardened.js';

/** Raw JSON-RPC server whose `fetch` tool fetches its URL `count` times, answers the statuses and exits. */
export const FETCH_SERVER = join(import.meta.dirname, 'fixtures', 'fetch-then-exit-server.py');
export const PYTHON = '/usr/bin/python3';

export const hostAddress = Object.values(networkInterfaces())
  .flat()
  .find((nic) => nic !== undefined && nic.family === 'IPv4' && !nic.internal)?.address;

/** Why these tests cannot run here, or undefined: no hardened tier, no non-loopback address, python3 or socat. */
export async function egressUnavailable(): Promise<string | undefined> {
  if (!(await new HardenedTier().availability()).available) return 'no hardened tier';
  if (hostAddress === undefined) return 'no non-loopback IPv4 address';
  if (!existsSync(PYTHON)) return `no ${PYTHON}`;
  if (!existsSync('/usr/bin/socat')) return 'no socat';
  return undefined;
}

export interface CountingTarget {
  readonly url: string;
  /** Requests received so far. */
  hits(): number;
  close(): Promise<void>;
}

/** An HTTP server on `address` answering `ok` and counting what it received. */
export async function countingTarget(address: string): Promise<CountingTarget> {
  let hits = 0;
  const server = createServer((_request, response) => {
    hits++;
    response.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return {
    url: `http://${address}:${(server.address() as AddressInfo).port}/`,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
