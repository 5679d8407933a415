import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CountingTarget,
  countingTarget,
  egressUnavailable,
  FETCH_SERVER,
  hostAddress,
  PYTHON,
} from './egress-target.js';
import { bridgeHome, type HomeBridge, spawnBridge } from './home-bridge.js';

// A bridged server's network_requests_per_min was a token bucket in the memory of its `oacp mcp run`:
// stopping the bridge and starting it again (or starting a second one of the same server on the home)
// gave the server a full budget. It is now a bucket of the home's quota store, as --quota-calls is.

const skip = (await egressUnavailable()) !== undefined;

describe.skipIf(skip)('the network budget of a bridged server on a home', () => {
  let target: CountingTarget;
  let url = '';

  beforeAll(async () => {
    target = await countingTarget(hostAddress ?? '');
    url = target.url;
  });
  afterAll(() => target.close());

  /** A started, initialised `oacp mcp run` of the fetcher under a manifest of `perMinute`/min, burst 0. */
  async function fetcher(home: string, perMinute: number) {
    const manifest = join(home, 'fetcher.yaml');
    writeFileSync(
      manifest,
      `apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: fetcher\nquotas:\n  network_requests_per_min: ${perMinute}\n  burst: 0\ncapabilities:\n  tools:\n    allow: [fetch]\n`,
    );
    const bridge: HomeBridge = spawnBridge(home, {
      flags: [
        // Not root on a cgroup v1 host: the kernel limits are polled, which this test does not need.
        ...(process.getuid?.() === 0 ? [] : ['--allow-unenforced', 'memory,pids,cpu,disk_io']),
        '--tier',
        'hardened',
        '--name',
        'fetcher',
        '--manifest',
        manifest,
        '--allow-network',
        new URL(url).host,
      ],
      server: [PYTHON, FETCH_SERVER, url],
    });
    await bridge.request({
      jsonrpc: '2.0',
      id: 'init',
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } },
    });
    bridge.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    let id = 0;
    // The server fetches `count` times, answers the statuses, and exits (the bridge starts it again).
    const fetch = async (count: number): Promise<string> =>
      JSON.parse(
        await bridge.request({
          jsonrpc: '2.0',
          id: ++id,
          method: 'tools/call',
          params: { name: 'fetch', arguments: { count } },
        }),
      ).result.content[0].text;
    return { bridge, fetch };
  }

  it('attack: the bridge is stopped after the budget is spent; a new `oacp mcp run` of the server on the home finds it spent', async () => {
    const home = await bridgeHome();
    const before = target.hits();
    const first = await fetcher(home, 2);
    try {
      expect(await first.fetch(2)).toBe('200 200');
    } finally {
      await first.bridge.close();
    }
    const second = await fetcher(home, 2);
    try {
      const status = await second.fetch(1);
      expect(status).toBe('429');
    } finally {
      await second.bridge.close();
    }
    expect(target.hits() - before).toBe(2);
  }, 90_000);

  it('attack: two `oacp mcp run` of the server at once share one budget', async () => {
    const home = await bridgeHome();
    const before = target.hits();
    const [a, b] = await Promise.all([fetcher(home, 3), fetcher(home, 3)]);
    try {
      expect(await a.fetch(2)).toBe('200 200');
      expect(await b.fetch(2)).toBe('200 429');
    } finally {
      await Promise.all([a.bridge.close(), b.bridge.close()]);
    }
    expect(target.hits() - before).toBe(3);
  }, 90_000);
});
