import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { RefusalReceiptLimits } from '../../src/airlock/quota/refusal-limit.js';
import { createAggregateBridge } from '../../src/mcp/aggregate.js';
import { type Bridge, createBridge } from '../../src/mcp/bridge.js';
import { LineTransport } from '../../src/mcp/line-transport.js';
import type { BridgeEvent } from '../../src/mcp/session.js';
import { fromSdkTransport } from '../../src/mcp/transport.js';
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
  /** One message to the front (a line over stdio). */
  send(message: unknown): void;
  /** Raw text to the front, as a client could send it (stdio only). */
  write(text: string): void;
  /** The first message answering `id`, once there is one. */
  answerTo(id: string): Promise<FrontMessage>;
  /** Every message the raw server received, in order. */
  serverGot(): FrontMessage[];
  /** The tools/call requests and cancellations the raw server received, in order. */
  serverCalls(): FrontMessage[];
  close(): Promise<void>;
}

export interface FrontOptions {
  /** The line cap of the stdio front. */
  readonly maxLineBytes?: number;
  /** Environment of the raw server (e.g. RAW_LIST_PAGES). */
  readonly serverEnv?: Record<string, string>;
  /**
   * `stdio` (default): the front over LineTransport, as `oacp mcp run --config` serves a stdio client;
   * `sdk`: over an MCP SDK transport (in memory), the way the `--http` front is served.
   */
  readonly over?: 'stdio' | 'sdk';
  /** How long `answerTo` waits (ms). */
  readonly answerWithinMs?: number;
  /** `--refusal-receipts` of the front and its server's bridge (their defaults otherwise). */
  readonly refusalReceipts?: RefusalReceiptLimits;
}

/**
 * The `--config` front with one server `raw` (test/mcp/fixtures/raw-server.mjs, which logs every
 * message it gets) behind it.
 */
export async function frontHarness(options: FrontOptions = {}): Promise<FrontHarness> {
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
          upstream: lightUpstream('raw', [RAW_SERVER], {
            env: { RAW_LOG: serverLog, ...options.serverEnv },
          }),
          receipts,
          onEvent: (event) => serverEvents.push(event),
          ...(options.refusalReceipts === undefined ? {} : { refusalReceipts: options.refusalReceipts }),
        }),
      ],
    ]),
    {
      receipts,
      onReceiptFailed: (callId, reason) => frontFailed.push({ callId, reason }),
      ...(options.refusalReceipts === undefined ? {} : { refusalReceipts: options.refusalReceipts }),
    },
  );
  const serverGot = (): FrontMessage[] =>
    existsSync(serverLog)
      ? readFileSync(serverLog, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as FrontMessage)
      : [];
  const received: FrontMessage[] = [];
  const { send, write } =
    options.over === 'sdk' ? await overSdk(bridge, received) : await overStdio(bridge, received, options);
  return {
    bridge,
    receipts,
    received,
    serverEvents,
    frontFailed,
    send,
    write,
    answerTo: async (id) => {
      await eventually(
        () => received.some((m) => m.id === id),
        `the answer to ${id}`,
        options.answerWithinMs,
      );
      return received.find((m) => m.id === id) as FrontMessage;
    },
    serverGot,
    serverCalls: () =>
      serverGot().filter((m) => m.method === 'tools/call' || m.method === 'notifications/cancelled'),
    close: async () => {
      await bridge.close();
      await receipts.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Wire = { send(message: unknown): void; write(text: string): void };

async function overStdio(bridge: Bridge, received: FrontMessage[], options: FrontOptions): Promise<Wire> {
  const toFront = new PassThrough();
  const fromFront = new PassThrough();
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
    send: (message) => toFront.write(`${JSON.stringify(message)}\n`),
    write: (text) => toFront.write(text),
  };
}

async function overSdk(bridge: Bridge, received: FrontMessage[]): Promise<Wire> {
  const [clientSide, bridgeSide] = InMemoryTransport.createLinkedPair();
  clientSide.onmessage = (message) => received.push(message as FrontMessage);
  await clientSide.start();
  await bridge.serve(fromSdkTransport(bridgeSide));
  return {
    send: (message) => void clientSide.send(message as JSONRPCMessage),
    write: () => {
      throw new Error('raw text goes over the stdio front only');
    },
  };
}
