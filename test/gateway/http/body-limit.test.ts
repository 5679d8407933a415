import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../../src/core/ed25519.js';
import { signRequest } from '../../../src/identity/signed-request.js';
import { adminKey, type ChildGateway, startChild } from '../service/child-gateway.js';
import { freshHome } from '../service/node-home.js';
import { chunkedUpload, rssGrowthDuring } from './chunked-upload.js';

const MIB = 1024 * 1024;
const ATTACK = 256 * MIB;
/** Generous: the limit is 1 MiB; reading the attack whole grew the gateway by 766 MiB. */
const GROWTH_BOUND = 64 * MIB;

/**
 * The attack: a 256 MiB chunked body sent to a gateway running in its own
 * process, whose resident memory is read from /proc while the upload runs.
 * The body limit counts bytes as they stream and comes before
 * authentication, and a request refused on its headers is never read.
 */
describe('streaming body limit', () => {
  let home: Awaited<ReturnType<typeof freshHome>>;
  let child: ChildGateway;
  let key: string;

  beforeAll(async () => {
    home = await freshHome();
    key = await adminKey(home.home);
    const config = join(home.home, 'oacp.yaml');
    writeFileSync(config, 'attestation:\n  level: standard\n');
    child = await startChild(home.home, config, home.env);
    // Warm the paths up so the measurement sees the upload, not first-use costs.
    for (let i = 0; i < 3; i++) {
      await chunkedUpload(child.url, '/v1/agents', { authorization: `Bearer ${key}` }, 2 * MIB, {
        chunkBytes: 64 * 1024,
      });
    }
  }, 120_000);
  afterAll(async () => {
    child?.process.kill('SIGTERM');
    await child?.exited;
    home?.remove();
  });

  const pid = () => child.process.pid ?? 0;

  it('refuses an unauthenticated 256 MiB chunked upload with 401 without reading it', async () => {
    const { result, growth } = await rssGrowthDuring(pid(), () =>
      chunkedUpload(child.url, '/v1/agents', {}, ATTACK),
    );
    expect(result.status).toBe(401);
    expect(result.response).toContain('UNAUTHENTICATED');
    expect(growth).toBeLessThan(GROWTH_BOUND);
  });

  it('refuses a wrong API key or an unknown signer on its headers, with the same bound', async () => {
    const wrongKey = await rssGrowthDuring(pid(), () =>
      chunkedUpload(
        child.url,
        '/v1/agents',
        { authorization: `Bearer oacp_0123456789abcdef_${'A'.repeat(43)}` },
        ATTACK,
      ),
    );
    expect(wrongKey.result.status).toBe(401);
    expect(wrongKey.growth).toBeLessThan(GROWTH_BOUND);
    const stranger = keySigner(generateEd25519().privateKey);
    const signed = signRequest(stranger, { purpose: 'POST /v1/agents', payload: '' });
    const unknownSigner = await rssGrowthDuring(pid(), () =>
      chunkedUpload(
        child.url,
        '/v1/agents',
        { 'oacp-signed-request': Buffer.from(JSON.stringify(signed)).toString('base64url') },
        ATTACK,
      ),
    );
    expect(unknownSigner.result.status).toBe(401);
    expect(unknownSigner.result.response).toContain('no agent');
    expect(unknownSigner.growth).toBeLessThan(GROWTH_BOUND);
  });

  it('cuts a 256 MiB chunked body to a public route (A2A) at the limit with 413', async () => {
    const { result, growth } = await rssGrowthDuring(pid(), () =>
      chunkedUpload(child.url, '/a2a/anyone', {}, ATTACK),
    );
    expect(result.status).toBe(413);
    expect(result.response).toContain('PAYLOAD_TOO_LARGE');
    expect(result.sent).toBeLessThan(ATTACK);
    expect(growth).toBeLessThan(GROWTH_BOUND);
  });

  it('cuts a 256 MiB chunked body with a valid API key at the limit with 413', async () => {
    const { result, growth } = await rssGrowthDuring(pid(), () =>
      chunkedUpload(child.url, '/v1/agents', { authorization: `Bearer ${key}` }, ATTACK),
    );
    expect(result.status).toBe(413);
    expect(result.sent).toBeLessThan(ATTACK);
    expect(growth).toBeLessThan(GROWTH_BOUND);
  });

  it('cuts an endless chunked body of "[" at the nesting limit with 400, before any parser', async () => {
    const { result, growth } = await rssGrowthDuring(pid(), () =>
      chunkedUpload(child.url, '/a2a/anyone', {}, ATTACK, { fill: 0x5b }),
    );
    expect(result.status).toBe(400);
    expect(result.response).toContain('nests more than 64 levels deep');
    expect(result.sent).toBeLessThan(ATTACK);
    expect(growth).toBeLessThan(GROWTH_BOUND);
  });

  it('refuses a declared Content-Length over the limit before reading anything', async () => {
    const response = await fetch(new URL('/a2a/anyone', child.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: 'x'.repeat(MIB + 1),
    });
    expect(response.status).toBe(413);
    // The gateway still serves after all of the above.
    expect((await fetch(new URL('/healthz', child.url))).status).toBe(200);
  });
});
