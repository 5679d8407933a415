import { join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LightTier } from '../../src/airlock/native/light.js';
import { type Manifest, ManifestSchema } from '../../src/capability/manifest.js';
import { type Bridge, type BridgeOptions, createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { MemoryReceiptSink } from '../../src/mcp/record.js';
import { serverIdentity } from '../../src/mcp/server-identity.js';
import type { BridgeEvent } from '../../src/mcp/session.js';
import { serveStdio } from '../../src/mcp/stdio.js';
import { fromSdkTransport } from '../../src/mcp/transport.js';
import { processUpstream, type UpstreamConnector } from '../../src/mcp/upstream.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SERVERS = {
  everything: join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'),
  filesystem: join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'),
  memory: join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js'),
} as const;

export function manifest(env: string[] = []): Manifest {
  return ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'mcp-test',
    capabilities: { env },
    quotas: { max_output_bytes: 2 ** 40, cpu_ms_per_request: 60_000, memory_mb: 1024 },
  });
}

export function lightUpstream(
  name: string,
  args: string[],
  options: { env?: Record<string, string>; stderr?: (line: string) => void } = {},
): UpstreamConnector {
  const tier = new LightTier();
  const env = options.env ?? {};
  return processUpstream({
    identity: serverIdentity(name, process.execPath, args),
    start: () => tier.start({ command: process.execPath, args, manifest: manifest(Object.keys(env)), env }),
    stderr: options.stderr ?? (() => undefined),
  });
}

export interface Harness {
  readonly client: Client;
  readonly receipts: MemoryReceiptSink;
  readonly bridge: Bridge;
  readonly events: BridgeEvent[];
  close(): Promise<void>;
}

export type Via = 'memory' | 'stdio' | 'http';

/**
 * The official SDK client talking to an in-process bridge: over an in-memory
 * pair, over stdio framing on a pair of pipes, or over Streamable HTTP on a
 * loopback port.
 */
export async function inProcess(
  upstream: UpstreamConnector,
  options: Omit<BridgeOptions, 'upstream' | 'receipts'> & { receipts?: MemoryReceiptSink; via?: Via } = {},
  client: Client = testClient(),
): Promise<Harness> {
  const receipts = options.receipts ?? new MemoryReceiptSink();
  const events: BridgeEvent[] = [];
  const bridge = createBridge({ ...options, upstream, receipts, onEvent: (event) => events.push(event) });
  let stop: () => Promise<void> = () => bridge.close();
  const via = options.via ?? 'memory';
  if (via === 'memory') {
    const [clientSide, bridgeSide] = InMemoryTransport.createLinkedPair();
    await bridge.serve(fromSdkTransport(bridgeSide));
    await client.connect(clientSide);
  } else if (via === 'stdio') {
    const toBridge = new PassThrough();
    const fromBridge = new PassThrough();
    await serveStdio(bridge, toBridge, fromBridge);
    await client.connect(new PipeClientTransport(fromBridge, toBridge));
  } else {
    const http = await serveHttp(bridge, { host: '127.0.0.1', port: 0 });
    await client.connect(new StreamableHTTPClientTransport(http.url));
    stop = () => http.close();
  }
  return {
    client,
    receipts,
    bridge,
    events,
    close: async () => {
      await client.close();
      await stop();
    },
  };
}

/** An SDK client transport speaking MCP's stdio framing over any pair of streams. */
export class PipeClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly #buffer = new ReadBuffer();

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {}

  async start(): Promise<void> {
    this.input.on('data', (chunk: Buffer) => {
      this.#buffer.append(chunk);
      for (;;) {
        const message = this.#buffer.readMessage();
        if (message === null) break;
        this.onmessage?.(message);
      }
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.output.write(serializeMessage(message));
  }

  async close(): Promise<void> {
    this.output.end();
    this.onclose?.();
  }
}

export function testClient(capabilities: Record<string, unknown> = {}): Client {
  return new Client({ name: 'oacp-test-client', version: '1.0.0' }, { capabilities });
}
