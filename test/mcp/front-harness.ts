import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { type Bridge, createBridge } from '../../src/mcp/bridge.js';
import { LineTransport } from '../../src/mcp/line-transport.js';
import type { BridgeEvent } from '../../src/mcp/session.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';
import { eventually, RAW_SERVER } from './raw-harness.js';

export type FrontMessage = {
  id?: unknown;
  method?: string;
  result?: unknown;
  error?: { code?: number; message: string; data?: Record<string, unknown> };
};

export interface FrontHarness {
  readonly bridge: Bridge;
  readonly receipts: TestReceipts;
  /** Every line the front wrote to its client, parsed. */
  readonly received: FrontMessage[];
  /** Events of the one server's own session (`raw`). */
  readonly serverEvents: BridgeEvent[];
  /** What the front reported through `onReceiptFailed`. */
  readonly frontFailed: { callId: string; reason: string }[];
  /** One message as a line to the front. */
  send(message: unknown): void;
  /** Raw text to the front, as a client could send it. */
  write(text: string): void;
  /** The first message answering `id`, once there is one. */
  answerTo(id: string): Promise<FrontMessage>;
  /** The tools/call requests and cancellations the raw server received, in order. */
  serverCalls(): FrontMessage[];
  close(): Promise<void>;
}

/**
 * The `--config` front as `oacp mcp run --config` serves it over stdio (LineTransport), with one
 * server `raw` (test/mcp/fixtures/raw-server.mjs, which logs every message it gets) behind it.
 */
export async function frontHarness(options: { maxLineBytes?: number } = {}): Promise<FrontHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-front-'));
  const serverLog = join(dir, 'server.jsonl');
  const receipts = await testReceipts();
  const serverEvents: BridgeEvent[] = [];
  const frontFailed: { callId: string; reason: string }[] = [];
  const bridge = createAggregateBridge(
    new Map([
      [
        'raw',
        createBridge({
          upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: serverLog } }),
          receipts,
          onEvent: (event) => serverEvents.push(event),
        }),
      ],
    ]),
    { receipts, onReceiptFailed: (callId, reason) => frontFailed.push({ callId, reason }) },
  );
  const toFront = new PassThrough();
  const fromFront = new PassThrough();
  const received: FrontMessage[] = [];
  let pending = '';
  fromFront.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line !== '') received.push(JSON.parse(line) as FrontMessage);
  });
  await bridge.serve(
    new LineTransport(
      toFront,
      fromFront,
      options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes },
    ),
  );
  return {
    bridge,
    receipts,
    received,
    serverEvents,
    frontFailed,
    send: (message) => toFront.write(`${JSON.stringify(message)}\n`),
    write: (text) => toFront.write(text),
    answerTo: async (id) => {
      await eventually(() => received.some((m) => m.id === id), `the answer to ${id}`);
      return received.find((m) => m.id === id) as FrontMessage;
    },
    serverCalls: () =>
      existsSync(serverLog)
        ? readFileSync(serverLog, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as FrontMessage)
            .filter((m) => m.method === 'tools/call' || m.method === 'notifications/cancelled')
        : [],
    close: async () => {
      await bridge.close();
      await receipts.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
