import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Dependencies point one way: core <- (identity, attest, log, policy, store, capability)
 * <- verify <- airlock <- (mcp, a2a) <- gateway <- (http, cli) <- bench. A folder may import
 * from lower ranks, and from its own rank only along the edges listed in SAME_RANK.
 */
const RANK: Record<string, number> = {
  core: 0,
  identity: 1,
  log: 1,
  policy: 1,
  store: 1,
  attest: 2,
  capability: 3,
  verify: 3,
  console: 3,
  node: 3,
  airlock: 4,
  run: 5,
  mcp: 5,
  a2a: 5,
  cluster: 5,
  gateway: 6,
  clients: 6,
  client: 7,
  http: 7,
  cli: 7,
  bench: 8,
  '.': 9,
};
// A2A messages are decided by the one tool-call pipeline (src/mcp/call-pipeline.ts); the CLI talks
// to a gateway through the public client, as any program would. The audit view shares its
// entry types with the browser console (src/console/audit-entry.ts, types only).
const SAME_RANK = new Set<string>(['a2a->mcp', 'cli->client', 'node->console']);

const SRC = join(import.meta.dirname, '..', '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

function domainOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes('/') ? (rel.split('/')[0] ?? '.') : '.';
}

describe('architecture', () => {
  it('has a rank for every top-level folder', () => {
    const domains = new Set(files(SRC).map(domainOf));
    const unranked = [...domains].filter((domain) => RANK[domain] === undefined);
    expect(unranked).toEqual([]);
  });

  it('keeps dependencies pointing one way', () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = domainOf(file);
      const source = readFileSync(file, 'utf8');
      for (const match of source.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        const target = domainOf(join(file, '..', match[1] ?? ''));
        if (target === from) continue;
        const ok = (RANK[target] ?? 99) < (RANK[from] ?? -1) || SAME_RANK.has(`${from}->${target}`);
        if (!ok) violations.push(`${relative(SRC, file)} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('keeps child_process and network servers out of the core', () => {
    const offenders = files(join(SRC, 'core')).filter((file) =>
      /node:(child_process|net|http)'/.test(readFileSync(file, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
