import { z } from 'zod';
import { readCappedBody } from '../core/capped-body.js';
import { describeError } from '../core/errors.js';
import { decodeBase64 } from '../log/base64.js';
import type { GossipPeer } from '../log/gossip.js';
import { clusterError } from './errors.js';

/** What a gateway publishes at GET /v1/log/witness (routes-public.ts): public, digests only. */
export const WitnessViewSchema = z.object({
  origin: z.string(),
  logKey: z.string(),
  witnessKey: z.string(),
  /** Its own latest checkpoint, with the cosignatures peers returned. */
  checkpoint: z.string(),
  cosigners: z.array(z.string()),
  /** Peers' checkpoints this node verified consistent and cosigned, by origin. */
  cosigned: z.record(z.string(), z.string()),
  peers: z.array(
    z.object({
      url: z.string(),
      origin: z.string().optional(),
      trusted: z.boolean(),
      size: z.number().optional(),
      checkedAt: z.string().optional(),
      error: z.string().optional(),
    }),
  ),
});
export type WitnessView = z.infer<typeof WitnessViewSchema>;

const ConsistencySchema = z.object({ proof: z.array(z.string()).max(64) });

/** Bound on any answer a peer gives: checkpoints and proofs are small. */
const MAX_ANSWER_BYTES = 1 << 20;

export interface HttpGossipPeer extends GossipPeer {
  witnessView(): Promise<WitnessView>;
}

/**
 * A peer gateway over HTTP(S): its checkpoint, consistency proofs and witness view, each
 * bounded in time and size and checked before use. `fetchImpl` carries the transport
 * (mutual TLS in a cluster); `token` an audit:read key for gateways that ask for one.
 */
export function httpGossipPeer(
  base: string,
  options: { token?: string; timeoutMs?: number; fetchImpl?: typeof fetch } = {},
): HttpGossipPeer {
  const doFetch = options.fetchImpl ?? fetch;
  const get = async (path: string): Promise<string> => {
    let response: Response;
    try {
      response = await doFetch(new URL(path, base), {
        signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
        ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
      });
    } catch (error) {
      throw clusterError(
        'CLUSTER_UNAVAILABLE',
        `${base}: GET ${path} failed: ${describeError(error)}`,
        error,
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw clusterError('CLUSTER_PEER_INVALID', `${base}: GET ${path} answered ${response.status}`);
    }
    return readCapped(response, `${base}: GET ${path}`);
  };
  const json = async <T>(path: string, schema: z.ZodType<T>): Promise<T> => {
    const text = await get(path);
    try {
      return schema.parse(JSON.parse(text));
    } catch (error) {
      throw clusterError('CLUSTER_PEER_INVALID', `${base}: GET ${path} is not the expected JSON`, error);
    }
  };
  return {
    checkpoint: () => get('/v1/log/checkpoint'),
    consistency: async (from, to) => {
      const body = await json(`/v1/log/consistency?from=${from}&to=${to}`, ConsistencySchema);
      return body.proof.map((line) => {
        const hash = decodeBase64(line);
        if (hash === undefined || hash.length !== 32)
          throw clusterError('CLUSTER_PEER_INVALID', `${base}: a proof hash is not base64 SHA-256`);
        return hash;
      });
    },
    witnessView: () => json('/v1/log/witness', WitnessViewSchema),
  };
}

/** The body as text, read no further than MAX_ANSWER_BYTES: a peer cannot fill this node's memory. */
async function readCapped(response: Response, what: string): Promise<string> {
  const body = await readCappedBody(response.body, MAX_ANSWER_BYTES);
  if (body === undefined) throw clusterError('CLUSTER_PEER_INVALID', `${what} answered more than 1 MiB`);
  return body.toString('utf8');
}
