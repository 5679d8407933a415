import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DERIVED_KEY_LABELS, derivedSeed } from '../../../src/cluster/derived-key.js';
import { privateKeyFromSeed } from '../../../src/core/ed25519.js';
import { Logger } from '../../../src/gateway/observability/logger.js';
import { defineTool } from '../../../src/gateway/runtime/define-tool.js';
import { KeyStore } from '../../../src/identity/keystore.js';
import { MANIFEST, raw, testTools } from './harness.js';
import { useGateway } from './use-gateway.js';

/**
 * Attack: a native tool that quotes a key the node derives from its log key (witness, transfer,
 * node TLS: src/cluster/derived-key.ts), as a tool reading the node's memory or a core dump
 * would. No gateway config names these keys; the gateway must mask them from the start, pinned.
 */
describe('a key derived from the log key, echoed by a failing tool', () => {
  const lines: string[] = [];
  let leak = '';
  const gw = useGateway({
    logger: new Logger((line) => lines.push(line), 'debug'),
    tools: [
      ...testTools(),
      defineTool({
        name: 'github.leaky',
        input: z.strictObject({}),
        run: () => {
          throw new Error(`found key ${leak}`);
        },
      }),
    ],
  });

  it('reaches no answer or log line, for each derived key in its JWK and hex spellings', async () => {
    // The master key freshHome (node-home.ts) gives every test home.
    const logSigner = KeyStore.open(gw.home, { OACP_MASTER_KEY: '11'.repeat(32) }).logSigner();
    const agent = await gw.client.createAgent({ name: 'leaky', manifest: MANIFEST });
    const headers = { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' };
    for (const label of Object.values(DERIVED_KEY_LABELS)) {
      const seed = derivedSeed(logSigner, label);
      // Spellings no pattern knows (a PEM block the pattern redactor masks anyway): a JWK's `d`, hex.
      const d = privateKeyFromSeed(seed).export({ format: 'jwk' }).d ?? '';
      for (const form of [d, Buffer.from(seed).toString('hex')]) {
        leak = form;
        const answer = await raw(gw.url, '/v1/tools/github.leaky/call', {
          method: 'POST',
          headers,
          body: JSON.stringify({ agent: agent.id, arguments: {} }),
        });
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.text).toContain('found key [REDACTED]');
        expect(answer.text).not.toContain(form);
        for (const line of lines) expect(line).not.toContain(form);
      }
    }
  });
});
