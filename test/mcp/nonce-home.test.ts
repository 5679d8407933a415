import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runMcpCommand } from '../../src/mcp/run.js';
import { BIN, bridgeHome, lineClient, signedToolCall, spawnBridge } from './home-bridge.js';
import { INITIALIZE, RAW_SERVER } from './raw-harness.js';

describe('durable nonces: one store per home, shared by every process', () => {
  it.skipIf(!existsSync(BIN))(
    'attack: a signed request refused as a replay in one bridge is refused by a new `oacp mcp run` process too',
    async () => {
      const dir = await bridgeHome();
      const call = signedToolCall('echo', { text: 'pay 100' });

      // First bridge, in this process: the request goes through once, then is a replay.
      const toBridge = new PassThrough();
      const fromBridge = new PassThrough();
      const running = runMcpCommand(
        { command: [process.execPath, RAW_SERVER], tier: 'light', name: 'raw' },
        { home: dir, env: {}, stdin: toBridge, stdout: fromBridge, log: () => undefined },
      );
      const first = lineClient(toBridge, fromBridge);
      await first(INITIALIZE);
      expect(JSON.stringify((await first(call(1))).result)).toContain('pay 100');
      expect(JSON.stringify((await first(call(2))).result)).toContain('replayed nonce');
      toBridge.end();
      await running;

      // A new process on the same home, within the replay window.
      const second = spawnBridge(dir);
      try {
        await second.request(INITIALIZE);
        const replayed = JSON.parse(await second.request(call(3))) as { result: unknown };
        expect(replayed.result).toMatchObject({ isError: true });
        expect(JSON.stringify(replayed.result)).toContain('replayed nonce');
      } finally {
        await second.close();
      }
    },
    60_000,
  );
});
