import type { Member } from './member.js';

/** What the leader should change so every wanted agent has exactly one live owner, and no one else does. */
export interface PlacementPlan {
  /** Agent -> the member to own it (they have no owner, or their owner is gone). */
  readonly assign: ReadonlyMap<string, Member>;
  /** Owner keys to delete: the agent is no longer wanted. */
  readonly release: readonly string[];
}

/**
 * Pure placement: each unowned wanted agent goes to the live member that owns
 * the fewest agents (ties by id, so every leader computes the same plan). The
 * plan is applied with compare-and-set transactions, so two leaders (during
 * an election) cannot both place one agent.
 */
export function planPlacement(
  wanted: readonly string[],
  owners: ReadonlyMap<string, string>,
  members: readonly Member[],
): PlacementPlan {
  const live = new Map(members.map((m) => [m.id, m]));
  const load = new Map(members.map((m) => [m.id, 0]));
  for (const owner of owners.values()) if (load.has(owner)) load.set(owner, (load.get(owner) ?? 0) + 1);
  const assign = new Map<string, Member>();
  const want = new Set(wanted);
  for (const agent of [...want].sort()) {
    const owner = owners.get(agent);
    if (owner !== undefined && live.has(owner)) continue;
    const target = [...live.values()].sort(
      (a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) || a.id.localeCompare(b.id),
    )[0];
    if (target === undefined) break;
    assign.set(agent, target);
    load.set(target.id, (load.get(target.id) ?? 0) + 1);
  }
  const release = [...owners.keys()].filter((agent) => !want.has(agent));
  return { assign, release };
}
