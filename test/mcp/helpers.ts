import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { LightTier } from '../../src/airlock/native/light.js';
import { parseEnvelopeBytes } from '../../src/attest/receipt.js';
import { type ReceiptVerification, verifyReceiptEnvelope } from '../../src/attest/verify-receipt.js';
import { type Manifest, ManifestSchema } from '../../src/capability/manifest.js';
import { generateEd25519, keySigner, type Signer } from '../../src/core/ed25519.js';
import { TransparencyLog } from '../../src/log/transparency-log.js';
import { type Bridge, type BridgeOptions, createBridge } from '../../src/mcp/bridge.js';
import { serveHttp } from '../../src/mcp/http.js';
import { PipeClientTransport } from '../../src/mcp/pipe-client-transport.js';
import { AttestedReceipts, logReceiptWriter } from '../../src/mcp/receipts.js';
import type { ReceiptRef, ReceiptSink, ToolCallRecord } from '../../src/mcp/record.js';
import { serverIdentity } from '../../src/mcp/server-identity.js';
import type { BridgeEvent } from '../../src/mcp/session.js';
import { serveStdio } from '../../src/mcp/stdio.js';
import { scratchDir } from '../scratch-dirs.js';

export { PipeClientTransport };

import { fromSdkTransport } from '../../src/mcp/transport.js';
import { processUpstream, type UpstreamConnector } from '../../src/mcp/upstream.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SERVERS = {
  everything: join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'),
  filesystem: join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'),
  memory: join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js'),
} as const;

/** The client token of the in-process HTTP bridges tests start (`clientAuth`), and the header that carries it. */
export const TEST_CLIENT_TOKEN = 'test-client-token-0123456789abcdefghijklmnop';
export const CLIENT_AUTHORIZATION = { authorization: `Bearer ${TEST_CLIENT_TOKEN}` } as const;

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
  options: {
    env?: Record<string, string>;
    stderr?: (line: string) => void;
    stderrBacklogged?: () => boolean;
  } = {},
): UpstreamConnector {
  const tier = new LightTier();
  const env = options.env ?? {};
  return processUpstream({
    identity: serverIdentity(name, process.execPath, args),
    start: () => tier.start({ command: process.execPath, args, manifest: manifest(Object.keys(env)), env }),
    stderr: options.stderr ?? (() => undefined),
    ...(options.stderrBacklogged === undefined ? {} : { stderrBacklogged: options.stderrBacklogged }),
  });
}

export interface Harness {
  readonly client: Client;
  readonly receipts: TestReceipts;
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
  options: Omit<BridgeOptions, 'upstream' | 'receipts'> & { receipts?: TestReceipts; via?: Via } = {},
  client: Client = testClient(),
): Promise<Harness> {
  const receipts = options.receipts ?? (await testReceipts());
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
    const http = await serveHttp(bridge, {
      host: '127.0.0.1',
      port: 0,
      clientAuth: { token: TEST_CLIENT_TOKEN },
    });
    await client.connect(
      new StreamableHTTPClientTransport(http.url, { requestInit: { headers: CLIENT_AUTHORIZATION } }),
    );
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
      await receipts.close();
    },
  };
}

/**
 * Real receipts: the tool-call predicate signed by a fresh Airlock key and
 * appended to a real transparency log in a temp directory. Keeps the records
 * too, so tests can look at what the bridge saw next to what it signed.
 */
export interface TestReceipts extends ReceiptSink {
  readonly records: ToolCallRecord[];
  readonly refs: ReceiptRef[];
  readonly airlock: Signer;
  readonly log: TransparencyLog;
  /** Reads entry `index` back from the log and verifies it offline with the Airlock key. */
  verify(
    index: number,
    expectedAgentDid?: string,
  ): Promise<ReceiptVerification & { predicate: Record<string, unknown> }>;
  close(): Promise<void>;
}

export const TEST_ORIGIN = 'test.oacp.invalid/receipts';

export async function testReceipts(options: { agentSigner?: Signer } = {}): Promise<TestReceipts> {
  const airlock = keySigner(generateEd25519().privateKey);
  const logDir = scratchDir('oacp-mcp-log-');
  const log = await TransparencyLog.open(logDir, {
    origin: TEST_ORIGIN,
    signer: keySigner(generateEd25519().privateKey),
  });
  const attested = new AttestedReceipts({
    writer: logReceiptWriter(log, airlock),
    origin: TEST_ORIGIN,
    ...(options.agentSigner === undefined ? {} : { agentSigner: options.agentSigner }),
  });
  const records: ToolCallRecord[] = [];
  const refs: ReceiptRef[] = [];
  let closed = false;
  return {
    records,
    refs,
    airlock,
    log,
    async record(call) {
      const ref = await attested.record(call);
      records.push(call);
      refs.push(ref);
      return ref;
    },
    async verify(index, expectedAgentDid) {
      const envelope = parseEnvelopeBytes(await log.entry(index));
      const verification = verifyReceiptEnvelope(envelope, {
        airlockKeys: [airlock.publicKey],
        ...(expectedAgentDid === undefined ? {} : { expectedAgentDid }),
      });
      const predicate = (verification.statement?.predicate ?? {}) as Record<string, unknown>;
      return { ...verification, predicate };
    },
    async close() {
      if (closed) return;
      closed = true;
      await log.close();
    },
  };
}

export function testClient(capabilities: Record<string, unknown> = {}): Client {
  return new Client({ name: 'oacp-test-client', version: '1.0.0' }, { capabilities });
}

/** The text of a tool result's content, for assertions. */
export function text(result: unknown): string {
  const content = (result as { content?: unknown }).content;
  if (!Array.isArray(content)) return '';
  return content
    .map((item: { type?: unknown; text?: unknown }) =>
      item.type === 'text' && typeof item.text === 'string' ? item.text : JSON.stringify(item),
    )
    .join('\n');
}

/** The log index in a tool result's `_meta["oacp/receipt"]`; throws when there is none. */
export function receiptIndex(result: unknown): number {
  const meta = (result as { _meta?: Record<string, unknown> })._meta;
  const receipt = meta?.['oacp/receipt'] as { index?: unknown } | undefined;
  if (typeof receipt?.index !== 'number') throw new Error(`no receipt in ${JSON.stringify(meta)}`);
  return receipt.index;
}
