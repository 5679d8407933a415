import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { bridgedTarget, directTarget, everythingEcho, type ToolCallTarget } from '../../src/mcp/bench.js';
import { runMcpCommand } from '../../src/mcp/run.js';
import { bridgeSigningWorkers } from '../../src/mcp/signing-choice.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { type BenchCase, figure, latencies, percentile, throughput } from '../harness.js';

const CALLS = 600;
const THROUGHPUT_CALLS = 6_000;
const IN_FLIGHT = 16;
const ROOT = join(import.meta.dirname, '..', '..');

async function withTarget<T>(
  make: () => Promise<ToolCallTarget>,
  use: (t: ToolCallTarget) => Promise<T>,
): Promise<T> {
  const target = await make();
  try {
    return await use(target);
  } finally {
    await target.close();
  }
}

/** Per-call latency and throughput of the bridge (receipts on) beside the same server connected directly. */
const bridgeCase: BenchCase = {
  id: 'mcp-bridge',
  title: 'MCP bridge: added latency per tools/call and attested calls/s, beside a direct connection',
  async run(report) {
    report(`${CALLS} sequential echo calls direct, bridged (durable receipts), bridged (queued receipts)`);
    const direct = await withTarget(directTarget, (t) => latencies(() => t.call(), CALLS));
    const durable = await withTarget(bridgedTarget, (t) => latencies(() => t.call(), CALLS));
    const queued = await withTarget(
      () => bridgedTarget(everythingEcho(), { ack: 'queued' }),
      (t) => latencies(() => t.call(), CALLS),
    );
    report(
      `${THROUGHPUT_CALLS} calls with ${IN_FLIGHT} in flight, direct, bridged, bridged signing on the event loop`,
    );
    const direct16 = await withTarget(directTarget, (t) =>
      cpuPerCall(() => throughput(() => t.call(), THROUGHPUT_CALLS, IN_FLIGHT), THROUGHPUT_CALLS),
    );
    // As `oacp mcp run` signs on this host (bridgeSigningWorkers), and the other way beside it.
    const workers = bridgeSigningWorkers();
    const bridged16 = await withTarget(
      () => bridgedTarget(everythingEcho(), { signingWorkers: workers }),
      (t) => cpuPerCall(() => throughput(() => t.call(), THROUGHPUT_CALLS, IN_FLIGHT), THROUGHPUT_CALLS),
    );
    const other16 = await withTarget(
      () => bridgedTarget(everythingEcho(), { signingWorkers: workers === 0 ? 1 : 0 }),
      (t) => cpuPerCall(() => throughput(() => t.call(), THROUGHPUT_CALLS, IN_FLIGHT), THROUGHPUT_CALLS),
    );
    const signing = (n: number) => (n === 0 ? 'signed on the event loop' : `${n} signing worker`);
    const directRate = direct16.value;
    const bridgedRate = bridged16.value;
    const directP50 = percentile(direct, 50);
    return [
      figure({
        case: 'mcp-bridge',
        metric: `CPU per call, ${IN_FLIGHT} in flight (this process: client, bridge, signing, fs pool)`,
        unit: 'µs',
        subject: bridged16.cpuMicros,
        baselineName: 'direct: the same client alone',
        baseline: direct16.cpuMicros,
        note: `${signing(workers)}, as oacp mcp run on this host; the bridge's own cost is the difference; load average ${loadavg()[0]?.toFixed(1)} at the end`,
      }),
      figure({
        case: 'mcp-bridge',
        metric: 'added latency p50, receipt fsynced before the answer',
        unit: 'ms',
        subject: percentile(durable, 50) - directP50,
        baselineName: 'direct call p50',
        baseline: directP50,
        goal: { op: '<=', value: 1 },
      }),
      figure({
        case: 'mcp-bridge',
        metric: 'added latency p50, receipt queued (--receipt-ack queued)',
        unit: 'ms',
        subject: percentile(queued, 50) - directP50,
        baselineName: 'direct call p50',
        baseline: directP50,
        goal: { op: '<=', value: 1 },
      }),
      figure({
        case: 'mcp-bridge',
        metric: `attested calls/s, ${IN_FLIGHT} in flight`,
        unit: 'calls/s',
        subject: bridgedRate,
        baselineName: 'direct calls/s',
        baseline: directRate,
        goal: { op: '>=', value: 5_000 },
      }),
      figure({
        case: 'mcp-bridge',
        metric: `attested calls/s, ${IN_FLIGHT} in flight, ${signing(workers === 0 ? 1 : 0)} (not this host's default)`,
        unit: 'calls/s',
        subject: other16.value,
        baselineName: `${signing(workers)} (as oacp mcp run here)`,
        baseline: bridgedRate,
        note: `CPU per call ${Math.round(other16.cpuMicros)} µs this way, ${Math.round(bridged16.cpuMicros)} µs as oacp mcp run here`,
      }),
    ];
  },
};

/** The bridge over Streamable HTTP beside the mcp-proxy npm package doing the same stdio-to-HTTP job. */
const peerCase: BenchCase = {
  id: 'mcp-peer',
  title: 'OACP bridge over HTTP (policy + receipts) beside mcp-proxy (no policy, no receipts)',
  async run(report) {
    const server = everythingEcho();
    report('mcp-proxy: stdio server exposed over Streamable HTTP');
    const port = await freePort();
    const proxy = spawn(
      process.execPath,
      [
        join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs'),
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--server',
        'stream',
        server.command,
        ...server.args,
      ],
      { stdio: 'ignore' },
    );
    let peer: Timed;
    try {
      peer = await httpLatencies(new URL(`http://127.0.0.1:${port}/mcp`), server, CALLS, proxy);
    } finally {
      proxy.kill('SIGKILL');
    }
    report('oacp mcp run --http (light tier, Cedar allow-all, durable receipts)');
    const home = mkdtempSync(join(tmpdir(), 'oacp-bench-peer-'));
    await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: 'bench.oacp.invalid/peer' });
    // The bridge's client token, as an operator gives it (--http-token-file); every timed call carries it.
    const token = randomBytes(32).toString('base64url');
    writeFileSync(join(home, 'client.token'), `${token}\n`, { mode: 0o600 });
    const controller = new AbortController();
    let url: URL | undefined;
    const ourPort = await freePort();
    const listening = new Promise<void>((resolve) => {
      void runMcpCommand(
        {
          command: [server.command, ...server.args],
          tier: 'light',
          name: 'bench',
          http: `127.0.0.1:${ourPort}`,
          httpTokenFile: join(home, 'client.token'),
        },
        {
          home,
          env: {},
          signal: controller.signal,
          log: () => undefined,
          onListening: (http) => {
            url = http.url;
            resolve();
          },
        },
      ).catch(() => resolve());
    });
    await listening;
    let ours: Timed | undefined;
    try {
      if (url === undefined) throw new Error('the OACP bridge did not start listening');
      ours = await httpLatencies(url, server, CALLS, undefined, { authorization: `Bearer ${token}` });
    } finally {
      controller.abort();
      rmSync(home, { recursive: true, force: true });
    }
    // CPU per call of the proxy alone: mcp-proxy's process from /proc; ours is in this process,
    // beside the same client, so the client's own CPU (the peer run's in-process figure) is taken off.
    const peerCpu = peer.childCpuMicros ?? 0;
    const ourCpu = Math.max(0, ours.selfCpuMicros - peer.selfCpuMicros);
    return [
      figure({
        case: 'mcp-peer',
        metric: 'tools/call p50 over Streamable HTTP',
        unit: 'ms',
        subject: percentile(ours.samples, 50),
        baselineName: 'mcp-proxy 5 (peer, no policy or receipts)',
        baseline: percentile(peer.samples, 50),
      }),
      figure({
        case: 'mcp-peer',
        metric: 'CPU per sequential tools/call over Streamable HTTP, the proxy alone',
        unit: 'µs',
        subject: ourCpu,
        baselineName: 'mcp-proxy 5 (its process, /proc)',
        baseline: peerCpu,
        note: `ours: this process less the client's own CPU (measured in the peer run); the server's CPU is in neither; load average ${loadavg()[0]?.toFixed(1)}`,
      }),
    ];
  },
};

/** From starting `oacp mcp run` to the first answered tools/list, beside starting the server directly. */
const startupCase: BenchCase = {
  id: 'mcp-startup',
  title: 'time from `oacp mcp run` to the first answered tools/list',
  async run(report) {
    const server = everythingEcho();
    const home = mkdtempSync(join(tmpdir(), 'oacp-bench-start-'));
    await KeyStore.init(home, { env: {} });
    writeNodeConfig(home, { version: 1, origin: 'bench.oacp.invalid/start' });
    const cli = join(ROOT, 'dist', 'cli', 'main.js');
    const figures = [];
    try {
      for (const tier of ['hardened', 'gvisor'] as const) {
        report(`5 starts direct and 5 through oacp mcp run --tier ${tier}`);
        const direct: number[] = [];
        const bridged: number[] = [];
        for (let i = 0; i < 5; i++) {
          direct.push(await timeToToolsList(server.command, [...server.args]));
          bridged.push(
            await timeToToolsList(process.execPath, [
              cli,
              '--home',
              home,
              'mcp',
              'run',
              '--tier',
              tier,
              '--',
              server.command,
              ...server.args,
            ]),
          );
        }
        figures.push(
          figure({
            case: 'mcp-startup',
            metric: `start to first tools/list (${tier} tier), p50`,
            unit: 'ms',
            subject: percentile(bridged, 50),
            baselineName: 'server started directly',
            baseline: percentile(direct, 50),
          }),
        );
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    return figures;
  },
};

/** `run`'s result and the CPU time (every thread of this process) it took per call, in µs. */
async function cpuPerCall<T>(run: () => Promise<T>, calls: number): Promise<{ value: T; cpuMicros: number }> {
  const before = process.cpuUsage();
  const value = await run();
  const used = process.cpuUsage(before);
  return { value, cpuMicros: (used.user + used.system) / calls };
}

async function timeToToolsList(command: string, args: string[]): Promise<number> {
  const started = performance.now();
  const client = new Client({ name: 'oacp-bench', version: '1' });
  await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
  await client.listTools();
  const elapsed = performance.now() - started;
  await client.close();
  return elapsed;
}

/** Latencies of sequential calls, with the CPU per call of this process and of `child` over them, in µs. */
interface Timed {
  readonly samples: number[];
  readonly selfCpuMicros: number;
  readonly childCpuMicros?: number;
}

/** utime + stime of one process (its threads, not its children), in µs; 10 ms ticks. */
function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function httpLatencies(
  url: URL,
  server: ReturnType<typeof everythingEcho>,
  count: number,
  child?: ChildProcess,
  headers: Record<string, string> = {},
): Promise<Timed> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const client = new Client({ name: 'oacp-bench', version: '1' });
    try {
      await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
      try {
        const call = () => client.callTool({ name: server.tool, arguments: server.arguments });
        // Untimed calls first: both sides' code warmed up before the CPU is counted.
        for (let i = 0; i < 50; i++) await call();
        const self = process.cpuUsage();
        const childBefore = child?.pid === undefined ? undefined : processCpuMicros(child.pid);
        const samples = await latencies(call, count, 0);
        const used = process.cpuUsage(self);
        const childAfter = child?.pid === undefined ? undefined : processCpuMicros(child.pid);
        return {
          samples,
          selfCpuMicros: (used.user + used.system) / count,
          ...(childBefore === undefined || childAfter === undefined
            ? {}
            : { childCpuMicros: (childAfter - childBefore) / count }),
        };
      } finally {
        await client.close();
      }
    } catch (error) {
      if (Date.now() > deadline || child?.exitCode != null) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export const mcpCases: BenchCase[] = [bridgeCase, peerCase, startupCase];
