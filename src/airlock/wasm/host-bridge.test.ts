import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../capability/parse.js';
import { QuotaLedger } from '../quota/ledger.js';
import { HostBridge } from './host-bridge.js';

function bridge(fetch: (url: string) => Promise<never>): HostBridge {
  const manifest = parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'test',
    capabilities: { network: { allowlist: ['api.example.com'] } },
    quotas: { memory_mb: 8, cpu_ms_per_request: 500 },
  });
  return new HostBridge(
    manifest,
    { fetch: (request) => fetch(request.url) },
    new QuotaLedger(manifest.quotas),
    { maxBytes: 1 << 20, maxDepth: 64 },
  );
}

describe('HostBridge fetch refusals', () => {
  it("attack: a guest's URL with credentials or a token in its query is not kept in clear in the refusal or the counted denials", async () => {
    const host = bridge(async (url) => {
      throw new Error(`cannot reach ${url}: ECONNREFUSED`);
    });
    const urls = [
      'not-absolute/?access_token=guest-tok-111&x=1',
      'https://other.test/?api_key=guest-key-222',
      'https://api.example.com/v1?token=guest-tok-333',
    ];
    const messages: string[] = [];
    for (const url of urls) {
      await host.call('fetch', JSON.stringify({ url, init: {} })).catch((error: Error) => {
        messages.push(error.message);
      });
    }
    expect(messages).toHaveLength(3);
    const kept = [...messages, ...host.counters.denials].join('\n');
    for (const secret of ['guest-tok-111', 'guest-key-222', 'guest-tok-333'])
      expect(kept).not.toContain(secret);
    expect(kept).toContain('[REDACTED]');
    expect(host.counters.denials.length).toBe(2);
  });
});
