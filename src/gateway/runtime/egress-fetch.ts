import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { EgressAudit, type EgressEvent } from '../../airlock/egress/audit.js';
import { checkEgress } from '../../airlock/egress/gate.js';
import { type Resolver, systemResolver } from '../../airlock/egress/resolver.js';
import { proxyRules } from '../../airlock/egress/rules.js';
import type { GuestFetchRequest, GuestFetchResponse } from '../../airlock/wasm/host-bindings.js';
import type { Manifest } from '../../capability/manifest.js';
import { NetworkPolicy } from '../../capability/network-policy.js';
import { allow } from '../../core/decision.js';
import { ANSWER_MAX, echoText } from '../../core/redact.js';

export interface EgressFetchOptions {
  readonly resolver?: Resolver;
  /** Largest response body handed to the guest (default 1 MiB). */
  readonly maxResponseBytes?: number;
  readonly timeoutMs?: number;
  readonly onEvent?: (event: EgressEvent) => void;
}

/**
 * The `fetch` an agent's sandbox gets. The host bridge has already checked
 * the host against the manifest and taken the request from the agent's
 * network quota; here the egress proxy's gate runs again on the resolved
 * addresses (a name never reaches a private address), and the connection is
 * made to the exact address that was checked, so DNS cannot change the answer
 * between check and connect.
 */
export function egressFetch(
  manifest: Manifest,
  options: EgressFetchOptions = {},
): (request: GuestFetchRequest) => Promise<GuestFetchResponse> {
  const rules = proxyRules(NetworkPolicy.from(manifest.capabilities.network));
  const audit = new EgressAudit(options.onEvent);
  const resolver = options.resolver ?? systemResolver;
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 15_000;
  // The bridge already charged the quota; a second charge here would halve the agent's budget.
  const limiter = { take: async () => allow('charged by the sandbox host bridge') };
  return async (request) => {
    const url = new URL(request.url);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const gate = await checkEgress({ rules, resolver, limiter, audit }, request.method, { host, port });
    if (gate.effect === 'deny')
      throw new Error(`egress refused: ${echoText(gate.decision.reason, ANSWER_MAX)}`);
    return send(url, request, gate.address, { maxBytes, timeoutMs });
  };
}

function send(
  url: URL,
  request: GuestFetchRequest,
  address: string,
  limits: { maxBytes: number; timeoutMs: number },
): Promise<GuestFetchResponse> {
  const family = isIP(address) === 6 ? 6 : 4;
  // Pin the connection to the checked address; Host and TLS SNI still carry the name.
  const lookup: LookupFunction = (_host, opts, callback) => {
    if ((opts as { all?: boolean }).all === true) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address, family },
      ]);
    } else callback(null, address, family);
  };
  const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = make(
      url,
      { method: request.method, headers: { ...request.headers }, lookup, timeout: limits.timeoutMs },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limits.maxBytes) {
            res.destroy();
            reject(new Error(`response from ${url.origin} is larger than ${limits.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({
            status: res.statusCode ?? 502,
            statusText: res.statusMessage ?? '',
            headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`request to ${url.origin} timed out after ${limits.timeoutMs} ms`)),
    );
    req.on('error', reject);
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}
