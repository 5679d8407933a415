import { callerNodeId } from '../../cluster/tls.js';
import type { GatewayCluster } from '../runtime/gateway-cluster.js';
import { type Listening, listen, parseListen } from './listen.js';

type Fetch = (request: Request, env: unknown) => Response | Promise<Response>;

/**
 * The listener other members talk to (forwarded runs, checkpoint gossip) when `cluster.tls` is
 * set: HTTPS that requires a client certificate issued by the cluster CA (refused in the TLS
 * handshake otherwise), whose subject CN must be a member registered in etcd now (403
 * otherwise). Behind that it serves the same routes, with the same authentication, as the
 * public listener.
 */
export function listenForCluster(
  fetch: Fetch,
  cluster: GatewayCluster,
  options: { listen: string; tls: { ca: string; cert: string; key: string } },
): Promise<Listening> {
  const guarded: Fetch = async (request, env) => {
    const socket = (env as { incoming?: { socket?: unknown } } | undefined)?.incoming?.socket;
    const node = callerNodeId(socket);
    if (node === undefined || !(await cluster.isMember(node))) {
      return Response.json(
        {
          error: {
            code: 'FORBIDDEN',
            message:
              'the cluster listener serves members only: present a certificate naming a registered node',
          },
        },
        { status: 403 },
      );
    }
    return fetch(request, env);
  };
  return listen(guarded, {
    ...parseListen(options.listen),
    tls: { cert: options.tls.cert, key: options.tls.key, clientCa: options.tls.ca },
  });
}
