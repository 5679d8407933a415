import { describe, expect, it } from 'vitest';
import { ManifestSchema } from '../capability/manifest.js';
import { LearnedCapabilities } from './learn.js';

const base = ManifestSchema.parse({
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name: 'srv',
  capabilities: {
    file_read: ['/data/**'],
    tools: { allow: ['*'] },
    network: { allowlist: ['api.example.com'] },
  },
});
const call = (tool: string) => ({
  callId: 'c',
  agent: 'a',
  server: 'srv',
  tool,
  upstreamTool: tool,
  arguments: {},
  quotaHolder: 'agent',
});

describe('LearnedCapabilities', () => {
  it('narrows tools to those called, adds hosts contacted, keeps file grants', () => {
    const learned = new LearnedCapabilities();
    learned.observe(call('read'), []);
    learned.observe(call('read'), []);
    learned.observe(call('write'), ['policy said no']);
    learned.observeEgress([
      { at: 't', effect: 'allow', reason: 'ok', method: 'CONNECT', host: 'api.example.com', port: 443 },
      {
        at: 't',
        effect: 'deny',
        reason: 'not allowed',
        method: 'CONNECT',
        host: 'cdn.example.net',
        port: 8443,
      },
    ]);
    const manifest = learned.manifest(base);
    expect(manifest.capabilities.tools).toEqual({ allow: ['read', 'write'], deny: [] });
    expect(manifest.capabilities.network.allowlist).toEqual(['api.example.com', 'cdn.example.net:8443']);
    expect(manifest.capabilities.file_read).toEqual(['/data/**']);
    expect(learned.yaml(base)).toContain('#   write: policy said no');
  });
});
