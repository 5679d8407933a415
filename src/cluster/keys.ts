/**
 * Where the cluster keeps its coordination state in etcd, under one prefix
 * (default `/oacp`): everything else (agents, quotas, API keys) is in the
 * shared PostgreSQL store.
 *
 * - `nodes/<node>`: a member, `{ id, url, lease }`, held by the node's lease;
 * - `owners/<agent>`: the node that runs the agent, held by that node's lease,
 *   so it disappears when the node does;
 * - `leader`: the election of the node that places agents;
 * - `lifecycle/<agent>`: poked when an agent's state changed on any node;
 * - `migrations/<agent>`: the last hand-over of the agent's state (source,
 *   target, state digest), written with the owner key's move and held by no
 *   lease: a target restores only the state it names (src/cluster/hand-over.ts).
 *
 * An agent no longer wanted running (suspended, retired) keeps no key: the
 * leader deletes its `lifecycle/` and `migrations/` keys in the transaction
 * that releases its owner key, or on their own when it has none.
 */
export function clusterKeys(prefix = '/oacp') {
  const root = prefix.replace(/\/+$/, '');
  return {
    nodes: `${root}/nodes/`,
    node: (id: string) => `${root}/nodes/${id}`,
    owners: `${root}/owners/`,
    owner: (agent: string) => `${root}/owners/${agent}`,
    leader: `${root}/leader`,
    lifecycle: `${root}/lifecycle/`,
    lifecycleOf: (agent: string) => `${root}/lifecycle/${agent}`,
    migrations: `${root}/migrations/`,
    migration: (agent: string) => `${root}/migrations/${agent}`,
  };
}

export type ClusterKeys = ReturnType<typeof clusterKeys>;

/** A node id or agent id as a key segment: no slashes, printable, bounded. */
export function validSegment(value: string): boolean {
  return /^[A-Za-z0-9._:-]{1,200}$/.test(value);
}
