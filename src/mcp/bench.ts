import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LightTier } from '../airlock/native/light.js';
import { ManifestSchema } from '../capability/manifest.js';
import { generateEd25519, keySigner } from '../core/ed25519.js';
import { TransparencyLog } from '../log/transparency-log.js';
import { IntentJournal } from '../node/intent-journal.js';
import { SigningPool } from '../node/signing-pool.js';
import { PolicyEngine } from '../policy/engine.js';
import { loadPolicies } from '../policy/load.js';
import { createBridge } from './bridge.js';
import { LineTransport } from './line-transport.js';
import { BRIDGE_MAX_OUTPUT_BYTES } from './manifest-from-options.js';
import { AttestedReceipts, logReceiptWriter, type ReceiptAck } from './receipts.js';
import { serverIdentity } from './server-identity.js';
import { serveStdio } from './stdio.js';
import { processUpstream } from './upstream.js';

/**
 * Helpers for `npm run bench`: the same tools/call made straight to a server
 * and through the bridge (Airlock light tier, Cedar policy, attested receipt
 * appended to a real transparency log), so the bridge's cost is the
 * difference. Both clients speak stdio framing; the bridge runs in-process.
 * `ack: 'durable'` (the default) answers after the receipt's fsync, `queued`
 * once it is signed and queued for the log's next group commit;
 * `signingWorkers` moves the Airlock's Ed25519 signing to worker threads.
 */
export interface ToolCallTarget {
  /** Makes one tools/call and resolves with its result. */
  call(): Promise<unknown>;
  close(): Promise<void>;
}

export interface BenchServer {
  readonly command: string;
  readonly args: readonly string[];
  readonly tool: string;
  readonly arguments: Record<string, unknown>;
}

/** The everything server's echo tool (a devDependency), the default subject. */
export function everythingEcho(): BenchServer {
  const require = createRequire(import.meta.url);
  return {
    command: process.execPath,
    args: [require.resolve('@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'],
    tool: 'echo',
    arguments: { message: 'bench' },
  };
}

/** The baseline: the official SDK client talking to the server over its stdio, no bridge. */
export async function directTarget(server: BenchServer = everythingEcho()): Promise<ToolCallTarget> {
  const client = new Client({ name: 'oacp-bench', version: '1' });
  await client.connect(
    new StdioClientTransport({ command: server.command, args: [...server.args], stderr: 'ignore' }),
  );
  return {
    call: () => client.callTool({ name: server.tool, arguments: server.arguments }),
    close: () => client.close(),
  };
}

const BENCH_POLICY = `@id("bench")
permit(principal, action == Action::"tools/call", resource) when { context.server == "bench" };
@id("bench-no-shell")
forbid(principal, action, resource == Tool::"shell");
`;

/**
 * The subject: the same client over stdio framing to the bridge, which
 * authorizes with Cedar, forwards to the server in the light tier, and signs
 * and logs a receipt (fsynced, group-committed) before answering.
 */
export async function bridgedTarget(
  server: BenchServer = everythingEcho(),
  options: { ack?: ReceiptAck; signingWorkers?: number } = {},
): Promise<ToolCallTarget & { logSize(): number }> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-bench-mcp-'));
  const log = await TransparencyLog.open(dir, {
    origin: 'bench.oacp.invalid/mcp',
    signer: keySigner(generateEd25519().privateKey),
  });
  const airlock = keySigner(generateEd25519().privateKey);
  const pool =
    (options.signingWorkers ?? 0) > 0
      ? await SigningPool.start(airlock, { workers: options.signingWorkers ?? 1 })
      : undefined;
  // The log's directory, as `oacp mcp run` passes it: the free-space check is part of every call.
  const writer = logReceiptWriter(log, pool ?? airlock, {
    dir,
    ...(options.ack === undefined ? {} : { ack: options.ack }),
  });
  const journal = IntentJournal.open(join(dir, 'intents'));
  const tier = new LightTier();
  const manifest = ManifestSchema.parse({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'bench',
    quotas: { max_output_bytes: BRIDGE_MAX_OUTPUT_BYTES, cpu_ms_per_request: 600_000, memory_mb: 2048 },
  });
  const bridge = createBridge({
    upstream: processUpstream({
      identity: serverIdentity('bench', server.command, server.args),
      start: () => tier.start({ command: server.command, args: [...server.args], manifest, env: {} }),
      stderr: () => undefined,
    }),
    policy: new PolicyEngine(loadPolicies(BENCH_POLICY, 'bench.cedar')),
    // With an intent journal, as `oacp mcp run` has one: its write per call is part of what is measured.
    receipts: new AttestedReceipts({ writer, origin: 'bench.oacp.invalid/mcp', journal: () => journal }),
  });
  const toBridge = new PassThrough();
  const fromBridge = new PassThrough();
  await serveStdio(bridge, toBridge, fromBridge);
  const client = new Client({ name: 'oacp-bench', version: '1' });
  await client.connect(sdkPipe(fromBridge, toBridge));
  return {
    call: () => client.callTool({ name: server.tool, arguments: server.arguments }),
    logSize: () => log.size,
    close: async () => {
      await client.close();
      await bridge.close();
      await writer.settled();
      journal.close();
      await log.close();
      await pool?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An SDK client transport over our line framing on a pair of streams. */
function sdkPipe(input: PassThrough, output: PassThrough): Transport {
  const lines = new LineTransport(input, output);
  const transport: Transport = {
    start: () => lines.start(),
    send: (message) => lines.send(message as never),
    close: async () => {
      output.end();
      await lines.close();
    },
  };
  lines.onmessage = (message) => transport.onmessage?.(message as JSONRPCMessage);
  lines.onclose = () => transport.onclose?.();
  return transport;
}
