import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OacpApiError, OacpClient } from '../../../src/client/index.js';
import { decodeBase64 } from '../../../src/log/base64.js';
import { openCheckpoint } from '../../../src/log/checkpoint.js';
import { gossipCheck } from '../../../src/log/gossip.js';
import { TransparencyLog } from '../../../src/log/transparency-log.js';
import { MANIFEST, raw } from './harness.js';
import { useGateway } from './use-gateway.js';

describe('GET /v1/receipts (the audit view) and GET /v1/log/consistency', () => {
  let auditor: OacpClient;
  let auditKey: string;
  const gw = useGateway();
  beforeAll(async () => {
    const agent = await gw.client.createAgent({ name: 'audited', manifest: MANIFEST });
    await gw.client.callTool('echo', { text: 'one' }, { agent: agent.id });
    await gw.client.callTool('echo', { text: 'two' }, { agent: agent.id });
    auditKey = await gw.keyWith(['audit:read']);
    auditor = new OacpClient({ baseUrl: gw.url, apiKey: auditKey });
  });

  it('lists decoded, verified receipts newest first, filtered and paged, to a key with audit:read', async () => {
    const page = await auditor.listReceipts({ tool: 'echo', decision: 'allow' });
    expect(page.entries.length).toBe(2);
    expect(page.entries[0]).toMatchObject({
      kind: 'tool-call',
      tool: 'echo',
      decision: 'allow',
      verified: true,
    });
    expect(page.entries[0]?.index).toBeGreaterThan(page.entries[1]?.index ?? Number.MAX_SAFE_INTEGER);
    const first = await auditor.listReceipts({ tool: 'echo', limit: 1 });
    expect(first.entries).toHaveLength(1);
    const rest = await auditor.listReceipts({ tool: 'echo', limit: 1, before: first.next ?? 0 });
    expect(rest.entries[0]?.index).toBe(page.entries[1]?.index);
    expect((await auditor.listReceipts({ tool: 'nothing' })).entries).toEqual([]);
  });

  it('refuses a key without audit:read, no credentials, and a bad filter naming the field', async () => {
    const reader = new OacpClient({ baseUrl: gw.url, apiKey: await gw.keyWith(['agents:read']) });
    await expect(reader.listReceipts()).rejects.toBeInstanceOf(OacpApiError);
    expect((await raw(gw.url, '/v1/receipts')).status).toBe(401);
    const bad = await raw(gw.url, '/v1/receipts?decision=maybe', {
      headers: { authorization: `Bearer ${auditKey}` },
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/decision/);
    const unknown = await raw(gw.url, '/v1/receipts?colour=red', {
      headers: { authorization: `Bearer ${auditKey}` },
    });
    expect(unknown.status).toBe(400);
  });

  it('serves consistency proofs that a gossiping peer verifies', async () => {
    const log = gw.gateway.node.log;
    const response = await raw(gw.url, `/v1/log/consistency?from=1&to=${log.size}`, {
      headers: { authorization: `Bearer ${auditKey}` },
    });
    expect(response.status).toBe(200);
    const proof = (response.json as { proof: string[] }).proof.map(
      (line) => decodeBase64(line) as Uint8Array,
    );
    expect(proof.length).toBeGreaterThan(0);
    const small = { size: 1, root: (size?: number) => log.root(size ?? 1), consistencyProof: () => [] };
    const peer = { checkpoint: async () => log.checkpoint(), consistency: async () => proof };
    await expect(gossipCheck(small, log.verifierKey, peer)).resolves.toMatchObject({
      how: 'peer extends local',
    });
    const bad = await raw(gw.url, `/v1/log/consistency?from=5&to=1`, {
      headers: { authorization: `Bearer ${auditKey}` },
    });
    expect(bad.status).toBe(400);
  });
  it('answers absurd consistency queries with 400 naming the parameter, without a key, never 500', async () => {
    const size = gw.gateway.node.log.size;
    // The positive control: public (no key), a real proof.
    const good = await raw(gw.url, `/v1/log/consistency?from=1&to=${size}`);
    expect(good.status).toBe(200);
    const absurd: Array<[string, RegExp]> = [
      ['', /from/],
      [`to=${size}`, /from/],
      ['from=1', /to/],
      ['from=-1&to=2', /from/],
      ['from=abc&to=2', /from/],
      ['from=1.5&to=2', /from/],
      ['from=%2B1&to=2', /from/],
      ['from=0x1&to=2', /from/],
      ['from=01&to=2', /from/],
      ['from=1e3&to=2', /from/],
      [`from=1&to=${'9'.repeat(17)}`, /to/],
      [`from=1&to=${'9'.repeat(5000)}`, /to/],
      [`from=1&to=${Number.MAX_SAFE_INTEGER}`, /log size/],
      [`from=${Number.MAX_SAFE_INTEGER}&to=${Number.MAX_SAFE_INTEGER}`, /log size/],
      ['from=9999999999999999&to=9999999999999999', /from/],
      [`from=${size}&to=1`, /at most/],
      [`from=1&to=${size + 1}`, /log size/],
    ];
    for (const [query, names] of absurd) {
      const response = await raw(gw.url, `/v1/log/consistency?${query}`);
      expect(response.status, query.slice(0, 40)).toBe(400);
      expect(JSON.stringify(response.json), query.slice(0, 40)).toMatch(names);
    }
  });
  it('proves consistency up to a checkpoint another process on the home published', async () => {
    const node = gw.gateway.node;
    const logDir = gw.gateway.services.logDir;
    // What this node knew before: it may catch up on the other's entry in a publishing round of its
    // own while the other closes (rounds are spaced 50 ms), so its size afterwards proves nothing.
    const before = node.log.size;
    // Another writer on the same home (a bridge, say) appends and publishes a larger tree.
    const other = await TransparencyLog.open(logDir, { origin: node.origin, signer: node.keys.logSigner() });
    try {
      await other.append(new TextEncoder().encode('{"from":"another process"}'));
      await other.sync();
    } finally {
      await other.close();
    }
    const published = openCheckpoint(readFileSync(join(logDir, 'checkpoint'), 'utf8'), node.log.verifierKey);
    const to = published.ok ? published.value.checkpoint.size : 0;
    expect(to).toBeGreaterThan(before);
    const response = await raw(gw.url, `/v1/log/consistency?from=1&to=${to}`);
    expect(response.status).toBe(200);
    expect((response.json as { proof: string[] }).proof.length).toBeGreaterThan(0);
  });
});
