import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type BridgeOptions, createBridge } from '../../src/mcp/bridge.js';
import type { BridgeEvent } from '../../src/mcp/session.js';
import { serveStdio } from '../../src/mcp/stdio.js';
import { scratchDir } from '../scratch-dirs.js';
import { lightUpstream, type TestReceipts, testReceipts } from './helpers.js';

export const RAW_SERVER = join(import.meta.dirname, 'fixtures', 'raw-server.mjs');

type Message = Record<string, unknown>;

/** One client session of the bridge, writing raw lines. */
export interface RawClient {
  /** Every line the client received, in order. */
  readonly received: Message[];
  /** Writes one line as the client; objects are serialized, strings sent as they are. */
  send(message: Message | string): void;
  /** Sends a request and resolves with the answer of its id. */
  request(message: Message & { id: string | number }, timeoutMs?: number): Promise<Message>;
  /** Answers the bridge's (the server's) requests to the client, by method. */
  onServerRequest(method: string, answer: (params: unknown) => Message): void;
  readonly closed: Promise<void>;
  /** Bytes the client wrote that the bridge has not read yet. */
  clientUnread(): number;
  /** Ends the client's side of the stream (a stdio client closing the bridge's stdin). */
  endInput(): void;
}

/** The first client of a bridge over the raw server, and what the bridge and its servers did. */
export interface RawHarness extends RawClient {
  readonly receipts: TestReceipts;
  readonly events: BridgeEvent[];
  /** What the server (every session's) read from the bridge, one parsed message per line. */
  serverGot(): Message[];
  /** Another client session of the same bridge (its own server process). */
  another(): Promise<RawClient>;
  close(): Promise<void>;
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 'init',
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

/** A client writing raw lines to an in-process bridge over the raw server, which logs what it gets. */
export async function rawHarness(
  options: Omit<BridgeOptions, 'upstream' | 'receipts'> & { env?: Record<string, string> } = {},
): Promise<RawHarness> {
  const dir = scratchDir('oacp-raw-');
  const serverLog = join(dir, 'server.jsonl');
  const receipts = await testReceipts();
  const events: BridgeEvent[] = [];
  const { env, ...bridgeOptions } = options;
  const bridge = createBridge({
    ...bridgeOptions,
    upstream: lightUpstream('raw', [RAW_SERVER], { env: { RAW_LOG: serverLog, ...env } }),
    receipts,
    onEvent: (event) => events.push(event),
  });
  const connect = async (): Promise<RawClient> => {
    const input = new PassThrough();
    const output = new PassThrough();
    const received: Message[] = [];
    const waiters = new Map<string, (message: Message) => void>();
    const handlers = new Map<string, (params: unknown) => Message>();
    let pending = '';
    output.on('data', (chunk: Buffer) => {
      const parts = (pending + chunk.toString()).split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        const message = JSON.parse(part) as Message;
        received.push(message);
        const handler = typeof message.method === 'string' ? handlers.get(message.method) : undefined;
        if (handler !== undefined && message.id !== undefined) {
          input.write(`${JSON.stringify({ jsonrpc: '2.0', id: message.id, ...handler(message.params) })}\n`);
          continue;
        }
        if (message.method === undefined && message.id !== undefined) {
          waiters.get(JSON.stringify(message.id))?.(message);
        }
      }
    });
    const session = await serveStdio(bridge, input, output);
    const send = (message: Message | string) =>
      input.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
    return {
      received,
      send,
      request: (message, timeoutMs = 10_000) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no answer to ${JSON.stringify(message.id)} in ${timeoutMs} ms`)),
            timeoutMs,
          );
          waiters.set(JSON.stringify(message.id), (answer) => {
            clearTimeout(timer);
            resolve(answer);
          });
          send(message);
        }),
      onServerRequest: (method, answer) => handlers.set(method, answer),
      closed: session.closed,
      clientUnread: () => input.readableLength + input.writableLength,
      endInput: () => input.end(),
    };
  };
  const first = await connect();
  return {
    ...first,
    receipts,
    events,
    another: connect,
    serverGot: () =>
      existsSync(serverLog)
        ? readFileSync(serverLog, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as Message)
        : [],
    close: async () => {
      await bridge.close();
      await receipts.close();
    },
  };
}

/** Initializes the session as a client would (initialize, then initialized). */
export async function initialized(harness: RawClient): Promise<void> {
  await harness.request(INITIALIZE);
  harness.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
}

/** Runs `body` on a fresh harness (`options` as rawHarness takes them), initialized, and closes it however `body` ends. */
export async function withInitialized(
  body: (raw: RawHarness) => Promise<void>,
  options: Parameters<typeof rawHarness>[0] = {},
): Promise<void> {
  const raw = await rawHarness(options);
  try {
    await initialized(raw);
    await body(raw);
  } finally {
    await raw.close();
  }
}

/** The JSON-RPC request `method` of id `id`. */
export function rpc(id: string | number, method: string, params: Message): Message & { id: string | number } {
  return { jsonrpc: '2.0', id, method, params };
}

export function deep(depth: number): unknown {
  return JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);
}

/** Waits until `check` holds (polling), or throws with `what`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether a process with this pid still exists (a zombie not yet reaped counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
