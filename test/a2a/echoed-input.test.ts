import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey } from '../../src/identity/did-key.js';
import { startNode, type TestNode } from './harness.js';

/**
 * What the A2A endpoint quotes back of a caller: the SDK's own errors (an
 * unsupported `A2A-Version`, an unknown task id) pass through the one
 * redactor and cut like every other answer.
 */
describe('A2A answers quote the caller redacted and cut', () => {
  let node: TestNode;
  const caller = keySigner(generateEd25519().privateKey);
  const apiKey = 'oacp_k7Qx2mN9_s3cr3tS3cr3tS3cr3tS3cr3t';
  const providerKey = 'sk-proj-Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5';

  beforeAll(async () => {
    node = await startNode([{ from: didKeyFromPublicKey(caller.publicKey), to: 'alice' }]);
    await node.agent('alice');
  });
  afterAll(async () => node?.close());

  const post = async (body: unknown, version?: string) => {
    const response = await fetch(`${node.url}/a2a/alice`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'A2A-Extensions': OACP_A2A_EXTENSION,
        ...(version === undefined ? {} : { 'A2A-Version': version }),
      },
      body: JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  };

  it('attack: a key as the A2A-Version, and as a task id: no answer carries it, none is longer than the cap', async () => {
    for (const secret of [apiKey, providerKey]) {
      const answers = [
        await post({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: secret } }, `9.${secret}`),
        await post({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: secret } }, '1.0'),
        await post({ jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id: secret } }),
        await post({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x'.repeat(5_000) } }, '1.0'),
        await post(
          { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } },
          `9.${'v'.repeat(5_000)}`,
        ),
      ];
      for (const answer of answers) {
        expect(answer.text).toContain('"error"');
        expect(answer.text).not.toContain('s3cr3t');
        expect(answer.text).not.toContain('Hq7Lm2Xv9Rt4Wz6Np1Kd3Bc5');
        expect(answer.text.length).toBeLessThan(1_500);
      }
    }
  });
});
