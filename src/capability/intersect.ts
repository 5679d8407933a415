import { specialDestinationReason } from './address-policy.js';
import { type HostPattern, hostPatternCovers, parseHostPattern } from './host-pattern.js';
import type { Manifest, Quotas } from './manifest.js';
import { namePatternCovers } from './name-pattern.js';
import { globCovers, type PathGlob, parsePathGlob } from './path-glob.js';

/**
 * The manifest a child workload actually gets: what it asked for, cut down to
 * what its parent holds. A child entry survives only if one parent entry
 * covers all of it; a parent entry the child's request fully covers is kept
 * too (asking for `/data/**` under a parent holding `/data/in/**` yields
 * `/data/in/**`). Both rules only ever keep subsets of the true intersection,
 * so the result can be narrower than ideal but never wider. Denylists are
 * united; quotas take the smaller value.
 */
export function intersectManifests(parent: Manifest, child: Manifest): Manifest {
  const p = parent.capabilities;
  const c = child.capabilities;
  return {
    apiVersion: child.apiVersion,
    kind: child.kind,
    name: child.name,
    capabilities: {
      file_read: intersectGlobs(p.file_read, c.file_read),
      file_write: intersectGlobs(p.file_write, c.file_write),
      network: {
        allowlist: intersectHosts(p.network.allowlist, c.network.allowlist),
        denylist: union(p.network.denylist, c.network.denylist),
        // A convenience route, not a grant: off when either side turned it off.
        ...(p.network.node_preload === false || c.network.node_preload === false
          ? { node_preload: false }
          : {}),
      },
      env: intersect(p.env, c.env, namePatternCovers),
      tools: {
        allow: intersect(p.tools.allow, c.tools.allow, namePatternCovers),
        deny: union(p.tools.deny, c.tools.deny),
      },
      models: {
        allow: intersect(p.models.allow, c.models.allow, namePatternCovers),
        deny: union(p.models.deny, c.models.deny),
        provider_tools: intersect(p.models.provider_tools, c.models.provider_tools, namePatternCovers),
      },
      ...(p.unix_sockets === true && c.unix_sockets === true ? { unix_sockets: true } : {}),
    },
    quotas: minQuotas(parent.quotas, child.quotas),
  };
}

function intersect<T>(
  parent: readonly T[],
  child: readonly T[],
  covers: (outer: T, inner: T) => boolean,
): T[] {
  const kept = [
    ...child.filter((c) => parent.some((p) => covers(p, c))),
    ...parent.filter((p) => child.some((c) => covers(c, p))),
  ];
  return [...new Set(kept)];
}

function intersectGlobs(parent: readonly string[], child: readonly string[]): string[] {
  const compile = (texts: readonly string[]) =>
    texts.flatMap((text) => {
      const glob = parsePathGlob(text);
      return glob === undefined ? [] : [glob];
    });
  const kept = intersect<PathGlob>(compile(parent), compile(child), globCovers);
  return [...new Set(kept.map((glob) => glob.text))];
}

/**
 * An exact entry lifts the default deny on private and metadata destinations
 * while a wildcard does not, so a wildcard parent entry never passes an exact
 * child entry for such a destination: that would be a new permission.
 */
function intersectHosts(parent: readonly string[], child: readonly string[]): string[] {
  const compile = (texts: readonly string[]) =>
    texts.flatMap((text) => {
      const pattern = parseHostPattern(text);
      return pattern === undefined ? [] : [pattern];
    });
  const covers = (outer: HostPattern, inner: HostPattern) =>
    hostPatternCovers(outer, inner) &&
    (!outer.wildcard || inner.wildcard || specialDestinationReason(inner.host) === undefined);
  const kept = intersect(compile(parent), compile(child), covers);
  return [...new Set(kept.map((pattern) => pattern.text))];
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

type NumericQuota = Exclude<keyof Quotas, 'allow_unenforced'>;

/** The smaller of each limit; an unenforced limit is accepted only when both sides accept it. */
function minQuotas(a: Quotas, b: Quotas): Quotas {
  const out = {
    ...a,
    allow_unenforced: a.allow_unenforced.filter((name) => b.allow_unenforced.includes(name)),
  };
  for (const key of Object.keys(a) as (keyof Quotas)[])
    if (key !== 'allow_unenforced')
      out[key as NumericQuota] = Math.min(a[key as NumericQuota], b[key as NumericQuota]);
  return out;
}
