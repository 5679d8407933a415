import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../src/identity/keystore.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { scratchDir } from '../scratch-dirs.js';

const RAW = join(import.meta.dirname, 'fixtures', 'raw-server.mjs');

/**
 * A refusal's receipt is written after the refusal is decided; a client that
 * sends an over-limit request and leaves at once must not take the receipt
 * with it (the session waits for every receipt under way before the log closes).
 */
describe('refusals are recorded even when the client leaves at once', () => {
  it('attack: a deep request of any method, then EOF: the refusal is in the home log', async () => {
    const dir = scratchDir('oacp-home-');
    await KeyStore.init(dir, { env: {} });
    writeNodeConfig(dir, { version: 1, origin: 'test.oacp.invalid/close' });
    const toBridge = new PassThrough();
    const running = runMcpCommand(
      { command: [process.execPath, RAW], tier: 'light', name: 'raw' },
      { home: dir, env: {}, stdin: toBridge, stdout: new PassThrough(), log: () => undefined },
    );
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    toBridge.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`,
    );
    toBridge.write(
      `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"x","junk":${deep}}}\n`,
    );
    toBridge.write(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"junk":${deep}}}\n`);
    toBridge.end();
    await running;
    const node = await OacpNode.open(dir, {});
    try {
      expect(node.log.size).toBe(2);
    } finally {
      await node.close();
    }
  });
});

describe('a call in flight when the client leaves', () => {
  it('attack: a tools/call the server never answers, then EOF: oacp mcp run ends and the call has one receipt in the home log, saying whether the server had it', async () => {
    const dir = scratchDir('oacp-home-');
    await KeyStore.init(dir, { env: {} });
    writeNodeConfig(dir, { version: 1, origin: 'test.oacp.invalid/close' });
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    let answered = '';
    fromBridge.on('data', (chunk: Buffer) => {
      answered += chunk.toString();
    });
    const running = runMcpCommand(
      { command: [process.execPath, RAW], tier: 'light', name: 'raw' },
      { home: dir, env: {}, stdin: toBridge, stdout: fromBridge, log: () => undefined },
    );
    const send = (message: unknown) => toBridge.write(`${JSON.stringify(message)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    while (!answered.includes('"id":1')) await new Promise((resolve) => setTimeout(resolve, 10));
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // A call answered proves the session is serving; then one the server never answers, and EOF.
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: {} } });
    while (!answered.includes('"id":2')) await new Promise((resolve) => setTimeout(resolve, 10));
    send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'hang', arguments: {} } });
    // Most often forwarded by now; either way the call must have its one receipt.
    await new Promise((resolve) => setTimeout(resolve, 200));
    toBridge.end();
    await running;
    const node = await OacpNode.open(dir, {});
    try {
      const predicates = [];
      for (let index = 0; index < node.log.size; index++) {
        const envelope = JSON.parse(Buffer.from(await node.log.entry(index)).toString('utf8'));
        predicates.push(JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')).predicate);
      }
      const hang = predicates.filter((predicate) => predicate.tool?.name === 'hang');
      expect(hang).toHaveLength(1);
      expect(hang[0]).toMatchObject({ outcome: 'server-gone', forwarded: expect.any(Boolean) });
      expect(hang[0].resultDigest).toBeUndefined();
    } finally {
      await node.close();
    }
  });
});
