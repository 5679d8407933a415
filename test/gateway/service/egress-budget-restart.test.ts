import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { OacpClient } from '../../../src/client/index.js';
import {
  type CountingTarget,
  countingTarget,
  egressUnavailable,
  FETCH_SERVER,
  hostAddress,
  PYTHON,
} from '../../mcp/egress-target.js';
import { adminKey, type ChildGateway, startChild } from './child-gateway.js';
import { freshHome } from './node-home.js';

// The attack: a server the gateway bridges from oacp.yaml spends its network_requests_per_min; the
// gateway restarts (a deploy, a crash) and the server's budget came back full, a bucket in the
// memory of each gateway process. It is a bucket of the home's store, the key `oacp mcp run` uses.

// As another user on a cgroup v1 host the gateway's hardened servers need allow_unenforced, which
// oacp.yaml has no key for: the test runs as root.
const skip = (await egressUnavailable()) !== undefined || process.getuid?.() !== 0;

describe.skipIf(skip)('the network budget of a server the gateway bridges', () => {
  let target: CountingTarget;
  let url = '';
  const children: ChildGateway[] = [];

  beforeAll(async () => {
    target = await countingTarget(hostAddress ?? '');
    url = target.url;
  });
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await target.close();
  });

  it('attack: spent before a gateway restart, still spent after it', { timeout: 120_000 }, async () => {
    const home = await freshHome('oacp-gw-egress-');
    try {
      const manifest = join(home.home, 'fetcher.yaml');
      writeFileSync(
        manifest,
        stringify({
          apiVersion: 'oacp.dev/v1',
          kind: 'CapabilityManifest',
          name: 'fetcher',
          quotas: { network_requests_per_min: 2, burst: 0 },
          capabilities: { tools: { allow: ['fetch'] } },
        }),
      );
      const config = join(home.home, 'oacp.yaml');
      writeFileSync(
        config,
        stringify({
          sandbox: { capabilities: { tools: { allow: ['*'] } } },
          mcp: {
            servers: [
              {
                name: 'fetcher',
                command: PYTHON,
                args: [FETCH_SERVER, url],
                tier: 'hardened',
                manifest,
                allow_network: [new URL(url).host],
              },
            ],
          },
        }),
      );
      const key = await adminKey(home.home);
      const fetchThrough = async (
        count: number,
        agent?: string,
      ): Promise<{ text: string; agent: string }> => {
        const child = await startChild(home.home, config, home.env);
        children.push(child);
        try {
          const client = new OacpClient({ baseUrl: child.url, apiKey: key });
          const id =
            agent ??
            (
              await client.createAgent({
                name: 'fetching-agent',
                manifest: {
                  apiVersion: 'oacp.dev/v1',
                  kind: 'CapabilityManifest',
                  name: 'fetching-agent',
                  capabilities: { tools: { allow: ['fetcher__*'] } },
                },
              })
            ).id;
          const answer = await client.callTool('fetcher__fetch', { count }, { agent: id });
          const content = (answer.result as { content?: Array<{ text?: string }> }).content ?? [];
          return { text: content.map((part) => part.text ?? '').join(''), agent: id };
        } finally {
          child.process.kill('SIGTERM');
          await child.exited;
        }
      };
      const first = await fetchThrough(2);
      expect(first.text).toBe('200 200');
      expect(target.hits()).toBe(2);
      // A new gateway process on the same home: the window has not passed, the budget stays spent.
      const second = await fetchThrough(1, first.agent);
      expect(second.text).toBe('429');
      expect(target.hits()).toBe(2);
    } finally {
      home.remove();
    }
  });
});
