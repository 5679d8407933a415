import { type ClusterListenerTls, type ClusterTls, callerIdentity } from '../../cluster/tls.js';
import type { GatewayCluster } from '../runtime/gateway-cluster.js';
import { type Listening, listen, parseListen } from './listen.js';
import type { RefuseRequest } from './listener-refusal.js';

type Fetch = (request: Request, env: unknown) => Response | Promise<Response>;

/**
 * The listener other members talk to (forwarded runs and A2A, migration, checkpoint gossip) when
 * `cluster.tls` is set: HTTPS that requires a client certificate. CA mode: issued by the cluster
 * CA (refused in the TLS handshake otherwise). node-key mode: any certificate whose key the
 * handshake proved, then its key must be the node key that member publishes. Either way its
 * subject CN must be a member registered in etcd now (403 otherwise). Behind that it serves the
 * same routes, with the same authentication, as the public listener.
 */
export function listenForCluster(
  fetch: Fetch,
  cluster: GatewayCluster,
  options: {
    listen: string;
    mode: ClusterTls['mode'];
    tls: ClusterListenerTls;
    /** The mounts' answers to the listener's own refusals (A2A: JSON-RPC), as on the public listener. */
    refuseRequest?: RefuseRequest;
  },
): Promise<Listening> {
  const guarded: Fetch = async (request, env) => {
    const socket = (env as { incoming?: { socket?: unknown } } | undefined)?.incoming?.socket;
    const caller = callerIdentity(socket, options.mode);
    if (caller === undefined || !(await cluster.isMember(caller.nodeId, caller.key))) {
      return Response.json(
        {
          error: {
            code: 'FORBIDDEN',
            message:
              options.mode === 'ca'
                ? 'the cluster listener serves members only: present a certificate naming a registered node'
                : 'the cluster listener serves members only: present a certificate for the node key a registered node publishes',
          },
        },
        { status: 403 },
      );
    }
    return fetch(request, env);
  };
  return listen(guarded, {
    ...parseListen(options.listen),
    tls: options.tls,
    ...(options.refuseRequest === undefined ? {} : { refuseRequest: options.refuseRequest }),
  });
}
