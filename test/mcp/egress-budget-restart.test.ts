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
import { bridgeHome, spawnBridge } from './home-bridge.js';

// A sandboxed server's network_requests_per_min was a bucket of its egress proxy, made anew at
// every start: a server that used its budget and exited was started again by the bridge with a
// full one (a limit of 3 a minute gave 12 requests in 25 s through four self-inflicted restarts).

const skip = (await egressUnavailable()) !== undefined;

describe.skipIf(skip)('a sandboxed server restarted by the bridge', () => {
  let target: CountingTarget;
  let url = '';

  beforeAll(async () => {
    target = await countingTarget(hostAddress ?? '');
    url = target.url;
  });
  afterAll(() => target.close());

  it('attack: a server spends its network_requests_per_min and exits; started again it finds the budget still spent', async () => {
    const home = await bridgeHome();
    const manifest = join(home, 'fetcher.yaml');
    writeFileSync(
      manifest,
      'apiVersion: oacp.dev/v1\nkind: CapabilityManifest\nname: fetcher\nquotas:\n  network_requests_per_min: 2\n  burst: 0\ncapabilities:\n  tools:\n    allow: [fetch]\n',
    );
    const bridge = spawnBridge(home, {
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
    let stderr = '';
    bridge.child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      await bridge.request({
        jsonrpc: '2.0',
        id: 'init',
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } },
      });
      bridge.child.stdin.write(
        `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`,
      );
      const fetch = async (id: number) =>
        JSON.parse(
          await bridge.request({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: { name: 'fetch', arguments: { count: 2 } },
          }),
        ).result.content[0].text;
      expect(await fetch(1)).toBe('200 200');
      // The server exits after answering: once the bridge has started it again, its next call.
      const deadline = Date.now() + 30_000;
      while (!stderr.includes('restarted') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(stderr).toContain('restarted');
      expect(await fetch(2)).toBe('429 429');
      expect(target.hits()).toBe(2);
    } finally {
      await bridge.close();
    }
  }, 60_000);
});
