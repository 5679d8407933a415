import { Etcd3 } from 'etcd3';
import { describeError } from '../core/errors.js';
import { clusterError } from './errors.js';
import { type ClusterKeys, clusterKeys } from './keys.js';
import { type Member, parseMember } from './member.js';

/** The members etcd lists now (records that do not parse are left out, never trusted). */
export async function readMembers(client: Etcd3, keys: ClusterKeys): Promise<Member[]> {
  const all = await client.getAll().prefix(keys.nodes).strings();
  return Object.values(all).flatMap((text) => parseMember(text) ?? []);
}

/** Agent -> owner node. */
export async function readPlacements(client: Etcd3, keys: ClusterKeys): Promise<Map<string, string>> {
  const all = await client.getAll().prefix(keys.owners).strings();
  return new Map(Object.entries(all).map(([key, owner]) => [key.slice(keys.owners.length), owner]));
}

/** Agents with a `lifecycle/` or `migrations/` key (keys only: the leader deletes those of unwanted agents). */
export async function readRemembered(client: Etcd3, keys: ClusterKeys): Promise<Set<string>> {
  const [lifecycle, migrations] = await Promise.all([
    client.getAll().prefix(keys.lifecycle).keys(),
    client.getAll().prefix(keys.migrations).keys(),
  ]);
  return new Set([
    ...lifecycle.map((key) => key.slice(keys.lifecycle.length)),
    ...migrations.map((key) => key.slice(keys.migrations.length)),
  ]);
}

export interface ClusterStatus {
  readonly members: readonly Member[];
  readonly leader: string | undefined;
  readonly placements: ReadonlyMap<string, string>;
}

/** What `oacp cluster status` shows, read from etcd without joining (no lease, no campaign). */
export async function readClusterStatus(
  endpoints: readonly string[],
  prefix?: string,
): Promise<ClusterStatus> {
  const keys = clusterKeys(prefix);
  const client = new Etcd3({
    hosts: [...endpoints],
    dialTimeout: 2_000,
    defaultCallOptions: () => ({ deadline: Date.now() + 3_000 }),
  });
  try {
    const [members, placements, leader] = await Promise.all([
      readMembers(client, keys),
      readPlacements(client, keys),
      client.election(keys.leader).leader(),
    ]);
    return { members, placements, leader: leader ?? undefined };
  } catch (error) {
    throw clusterError(
      'CLUSTER_UNAVAILABLE',
      `cannot read the cluster from etcd at ${endpoints.join(', ')}: ${describeError(error)}`,
      error,
    );
  } finally {
    client.close();
  }
}
