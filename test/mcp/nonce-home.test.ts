import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { signRequest } from '../../src/identity/signed-request.js';
import { AGENT_REQUEST_META, toolCallPayload, toolCallPurpose } from '../../src/mcp/principal.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { INITIALIZE, RAW_SERVER } from './raw-harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

async function home(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-home-'));
  await KeyStore.init(dir, { env: {} });
  writeNodeConfig(dir, { version: 1, origin: 'test.oacp.invalid/nonces' });
  return dir;
}

/** Writes lines to a bridge's stdin and collects the answers it writes by id. */
function lineClient(toBridge: NodeJS.WritableStream, fromBridge: NodeJS.ReadableStream) {
  const answers = new Map<unknown, Record<string, unknown>>();
  let pending = '';
  fromBridge.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      const message = JSON.parse(part) as Record<string, unknown>;
      if (message.id !== undefined && message.method === undefined) answers.set(message.id, message);
    }
  });
  return {
    async request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
      toBridge.write(`${JSON.stringify(message)}\n`);
      const deadline = Date.now() + 20_000;
      while (!answers.has(message.id)) {
        if (Date.now() > deadline) throw new Error(`no answer to ${String(message.id)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return answers.get(message.id) as Record<string, unknown>;
    },
  };
}

describe('durable nonces: one store per home, shared by every process', () => {
  it.skipIf(!existsSync(BIN))(
    'attack: a signed request refused as a replay in one bridge is refused by a new `oacp mcp run` process too',
    async () => {
      const dir = await home();
      const agent = keySigner(generateEd25519().privateKey);
      const args = { text: 'pay 100' };
      const signed = signRequest(agent, {
        purpose: toolCallPurpose('echo'),
        payload: toolCallPayload('echo', args),
      });
      const call = (id: number) => ({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: args, _meta: { [AGENT_REQUEST_META]: signed } },
      });

      // First bridge, in this process: the request goes through once, then is a replay.
      const toBridge = new PassThrough();
      const fromBridge = new PassThrough();
      const running = runMcpCommand(
        { command: [process.execPath, RAW_SERVER], tier: 'light', name: 'raw' },
        { home: dir, env: {}, stdin: toBridge, stdout: fromBridge, log: () => undefined },
      );
      const first = lineClient(toBridge, fromBridge);
      await first.request(INITIALIZE);
      expect(JSON.stringify((await first.request(call(1))).result)).toContain('pay 100');
      expect(JSON.stringify((await first.request(call(2))).result)).toContain('replayed nonce');
      toBridge.end();
      await running;

      // A new process on the same home, within the replay window.
      const child = spawn(
        process.execPath,
        [
          BIN,
          '--home',
          dir,
          'mcp',
          'run',
          '--tier',
          'light',
          '--name',
          'raw',
          '--',
          process.execPath,
          RAW_SERVER,
        ],
        { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
      );
      try {
        const second = lineClient(child.stdin, child.stdout);
        await second.request(INITIALIZE);
        const replayed = await second.request(call(3));
        expect(replayed.result).toMatchObject({ isError: true });
        expect(JSON.stringify(replayed.result)).toContain('replayed nonce');
      } finally {
        child.stdin.end();
        await new Promise((resolve) => child.once('exit', resolve));
      }
    },
    60_000,
  );
});
