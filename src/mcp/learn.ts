import type { EgressEvent } from '../airlock/egress/audit.js';
import { type Manifest, ManifestSchema } from '../capability/manifest.js';
import { yaml as yamlLibrary } from '../core/yaml.js';
import type { CallContext } from './call-gate.js';

/**
 * What `--learn` saw a server session use: the tools its client called and
 * the hosts its sandbox tried to reach. File accesses cannot be observed by
 * the Airlock's tiers today, so file grants are carried over from the
 * manifest the run started with, never invented.
 */
export class LearnedCapabilities {
  readonly #tools = new Map<string, number>();
  readonly #wouldDeny: string[] = [];
  readonly #hosts = new Set<string>();

  observe(call: CallContext, wouldDeny: readonly string[]): void {
    this.#tools.set(call.tool, (this.#tools.get(call.tool) ?? 0) + 1);
    for (const reason of wouldDeny) this.#wouldDeny.push(`${call.tool}: ${reason}`);
  }

  /** Hosts from the sandbox's egress proxy, allowed or not: a refused one is one the server needs. */
  observeEgress(events: readonly EgressEvent[]): void {
    for (const event of events)
      this.#hosts.add(event.port === 443 || event.port === 80 ? event.host : `${event.host}:${event.port}`);
  }

  get tools(): string[] {
    return [...this.#tools.keys()].sort();
  }

  get hosts(): string[] {
    return [...this.#hosts].sort();
  }

  /** `base` narrowed to the tools used and widened by the hosts contacted. */
  manifest(base: Manifest): Manifest {
    return ManifestSchema.parse({
      ...base,
      capabilities: {
        ...base.capabilities,
        tools: { allow: this.tools, deny: [] },
        network: {
          ...base.capabilities.network,
          allowlist: [...new Set([...base.capabilities.network.allowlist, ...this.hosts])],
        },
      },
    });
  }

  yaml(base: Manifest): string {
    const header = [
      `# Least-privilege manifest learned by oacp mcp run --learn for "${base.name}".`,
      `# Tools called: ${this.tools.join(', ') || '(none)'}`,
      `# Hosts contacted: ${this.hosts.join(', ') || '(none)'}`,
      '# File grants are those the run started with: file access is not observed.',
      ...(this.#wouldDeny.length === 0
        ? []
        : [
            '# Calls that the policy or tools list would have refused:',
            ...this.#wouldDeny.slice(0, 50).map((line) => `#   ${line}`),
          ]),
    ];
    return `${header.join('\n')}\n${yamlLibrary().stringify(this.manifest(base))}`;
  }
}
