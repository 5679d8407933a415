import { z } from 'zod';
import { allow, type Decision, deny } from '../core/decision.js';
import { isDidKey } from '../identity/did-key.js';
import { a2aError } from './errors.js';

/**
 * Which agents may send tasks to which: a list of directed edges, deny by
 * default. An end is a did:key, the name of an agent on this node, or `*`.
 * A sender from another node is known only by its did:key (its name there
 * is not something this node can check), so only a did or `*` matches it.
 */
export interface TrustEdge {
  readonly from: string;
  readonly to: string;
}

const End = z
  .string()
  .min(1)
  .max(256)
  .refine((end) => end === '*' || isDidKey(end) || /^[a-z0-9][a-z0-9._-]*$/i.test(end), {
    message: 'must be a did:key, an agent name or *',
  });
const EdgesSchema = z.array(z.strictObject({ from: End, to: End }));

/** A party to an edge: its did:key, and its name when it is an agent of this node. */
export interface TrustParty {
  readonly did: string;
  readonly localName?: string;
}

export class TrustGraph {
  private readonly edges: readonly TrustEdge[];

  constructor(edges: readonly TrustEdge[]) {
    const parsed = EdgesSchema.safeParse(edges);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw a2aError(
        'A2A_TRUST_GRAPH_INVALID',
        `a2a.trust[${issue?.path.join('.') ?? ''}]: ${issue?.message ?? 'invalid edge'}`,
      );
    }
    this.edges = parsed.data;
  }

  static empty(): TrustGraph {
    return new TrustGraph([]);
  }

  /** Whether `from` may send tasks to `to`, naming the edge that allows it. */
  decide(from: TrustParty, to: TrustParty): Decision {
    const index = this.edges.findIndex((edge) => matches(edge.from, from) && matches(edge.to, to));
    const edge = this.edges[index];
    if (edge === undefined) {
      return deny(
        `no trust edge lets ${describe(from)} send tasks to ${describe(to)} (a2a.trust has ${this.edges.length} edge(s))`,
      );
    }
    return allow(`trust edge ${edge.from} -> ${edge.to}`, `a2a.trust[${index}]`);
  }

  get size(): number {
    return this.edges.length;
  }
}

function matches(end: string, party: TrustParty): boolean {
  return end === '*' || end === party.did || (party.localName !== undefined && end === party.localName);
}

function describe(party: TrustParty): string {
  return party.localName === undefined ? party.did : `${party.localName} (${party.did})`;
}
