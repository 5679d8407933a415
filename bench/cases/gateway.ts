import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Hono } from 'hono';
import { z } from 'zod';
import { StandardTier } from '../../src/airlock/wasm/standard-tier.js';
import type { WasmSandbox } from '../../src/airlock/wasm/wasm-sandbox.js';
import { parseManifest } from '../../src/capability/parse.js';
import { parseGatewayConfig } from '../../src/gateway/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { listen } from '../../src/gateway/http/listen.js';
import { silentLogger } from '../../src/gateway/observability/logger.js';
import type { AgentRecord } from '../../src/gateway/runtime/agent-directory.js';
import { defineTool } from '../../src/gateway/runtime/define-tool.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { defaultOrigin, writeNodeConfig } from '../../src/node/node-config.js';
import { defaultSigningWorkers } from '../../src/node/signing-pool.js';
import { type BenchCase, type Figure, figure, latencies, percentile } from '../harness.js';

const AUTOCANNON = join(import.meta.dirname, '..', '..', 'node_modules', 'autocannon', 'autocannon.js');
const CONNECTIONS = 64;
const DURATION_S = 8;
const AGENTS = 1000;
const CONTEXT_READS = 2000;
/** Offered load for the open-loop latency figure: below both sides' capacity on a 2-core machine. */
const OPEN_LOOP_RATE = 2_000;

export const UNLIMITED = { api_calls_per_hour: 1_000_000_000, burst: 1_000_000, memory_mb: 4 };

interface Bench {
  readonly gateway: Gateway;
  readonly url: URL;
  readonly key: string;
  close(): Promise<void>;
}

/**
 * A gateway on a throw-away home as `oacp gateway` would run it, with one
 * native tool (`echo`), quotas out of the way and receipts signed by the
 * node's signing workers.
 */
async function benchGateway(): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'oacp-bench-gw-'));
  const home = join(dir, 'home');
  const env = { OACP_MASTER_KEY: '42'.repeat(32) };
  const keys = await KeyStore.init(home, { env });
  writeNodeConfig(home, { version: 1, origin: defaultOrigin(keys.publicKeys().log.raw) });
  const gateway = await createGateway({
    home,
    env,
    config: parseGatewayConfig(
      {
        sandbox: { capabilities: { tools: { allow: ['*'] } } },
        attestation: { level: 'standard' },
        quotas: UNLIMITED,
      },
      dir,
    ),
    listen: '127.0.0.1:0',
    logger: silentLogger(),
    signingWorkers: defaultSigningWorkers(),
    tools: [
      defineTool({
        name: 'echo',
        input: z.strictObject({ text: z.string().max(1024) }),
        run: ({ text }) => ({ echoed: text }),
      }),
    ],
  });
  const url = await gateway.listen();
  const key = (await gateway.apiKeys.create({ scopes: ['admin'] })).key;
  return {
    gateway,
    url,
    key,
    close: async () => {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The same HTTP stack (Hono on @hono/node-server, same listener) doing nothing but answering. */
async function bareServer(body: unknown): Promise<{ url: URL; close(): Promise<void> }> {
  const app = new Hono();
  app.post('/call', async (c) => {
    await c.req.json();
    return c.json(body);
  });
  app.get('/read', (c) => c.json(body));
  const server = await listen(app.fetch, { host: '127.0.0.1', port: 0 });
  return { url: server.url, close: () => server.close() };
}

export interface CannonResult {
  readonly rps: number;
  /** Requests answered in the run (any status). */
  readonly total: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  /** The load generator's own CPU (its whole process) per answered request, in µs. */
  readonly loadCpuMicros: number;
}

/** Makes the autocannon process print its own CPU time as its last stderr line. */
const REPORT_CPU = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\n@cpu '+JSON.stringify(process.cpuUsage())+'\\n'))`;

/**
 * autocannon in its own process, so the load generator does not share the server's event loop.
 * Closed loop by default (each connection sends its next request when answered: the server's
 * capacity); with `rate`, that many requests per second in all, spread over the connections
 * (open loop below capacity: a latency figure that is not just queueing behind `connections`).
 */
export function cannon(
  url: URL,
  headers: Record<string, string>,
  body: string,
  connections = CONNECTIONS,
  options: { readonly rate?: number } = {},
): Promise<CannonResult> {
  const args = [
    '--import',
    REPORT_CPU,
    AUTOCANNON,
    '-j',
    '-n',
    '-c',
    String(connections),
    '-d',
    String(DURATION_S),
    '-m',
    'POST',
    '-b',
    body,
  ];
  if (options.rate !== undefined) args.push('-R', String(options.rate));
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}=${value}`);
  args.push(url.href);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('exit', () => {
      try {
        const json = JSON.parse(out) as {
          requests: { average: number; total: number };
          latency: { p50: number; p99: number };
          non2xx: number;
          errors: number;
        };
        const cpu = JSON.parse(/@cpu (.*)/.exec(err)?.[1] ?? '{}') as Partial<NodeJS.CpuUsage>;
        resolve({
          rps: json.requests.average,
          total: json.requests.total,
          p50: json.latency.p50,
          p99: json.latency.p99,
          non2xx: json.non2xx,
          errors: json.errors,
          loadCpuMicros: ((cpu.user ?? 0) + (cpu.system ?? 0)) / Math.max(1, json.requests.total),
        });
      } catch {
        reject(new Error(`autocannon gave no result: ${err.slice(-500)}`));
      }
    });
  });
}

/** Attested native tool calls over HTTP against a bare handler, autocannon in another process. */
const toolCallCase: BenchCase = {
  id: 'gateway-tool-calls',
  title: `gateway: attested native tool calls over HTTP (${CONNECTIONS} connections, ${DURATION_S} s)`,
  async run(report) {
    const bench = await benchGateway();
    const bare = await bareServer({ result: { echoed: 'hi' }, isError: false });
    try {
      const agent = await bench.gateway.services.agents.create({
        name: 'bench',
        manifest: {
          apiVersion: 'oacp.dev/v1',
          kind: 'CapabilityManifest',
          name: 'bench',
          capabilities: { tools: { allow: ['echo'] } },
          quotas: UNLIMITED,
        },
      });
      const body = JSON.stringify({ agent: agent.id, arguments: { text: 'hi' } });
      const headers = { authorization: `Bearer ${bench.key}`, 'content-type': 'application/json' };
      // The first seconds of a process run unoptimised code: V8 compiles the hot functions on its
      // helper threads meanwhile, CPU that is the process's once, not each call's. Each side gets
      // the same unmeasured warm-up first (as the cluster case does), so the figures are per call.
      report('warm-up of both (not measured)');
      await cannon(new URL('/call', bare.url), { 'content-type': 'application/json' }, body);
      await cannon(new URL('/v1/tools/echo/call', bench.url), headers, body);
      report('baseline: bare Hono handler');
      const bareCpu = process.cpuUsage();
      const bareSplit = threadSplit();
      const baseline = await cannon(new URL('/call', bare.url), { 'content-type': 'application/json' }, body);
      const bareCpuUs = cpuMicros(process.cpuUsage(bareCpu)) / Math.max(1, baseline.total);
      const bareThreads = bareSplit.end(baseline.total);
      report(
        'subject: POST /v1/tools/echo/call (auth, checks, Cedar, quota, signed receipt fsynced in the log)',
      );
      const loggedBefore = bench.gateway.node.log.size;
      const subjectCpu = process.cpuUsage();
      const subjectSplit = threadSplit();
      const subject = await cannon(new URL('/v1/tools/echo/call', bench.url), headers, body);
      const logged = bench.gateway.node.log.size - loggedBefore;
      const subjectThreads = subjectSplit.end(logged);
      // Every thread of this process (event loop, V8's GC and compiler helpers, signing worker, libuv's fs pool) per receipted call:
      // unlike calls/s, this barely moves when other work shares the machine.
      const subjectCpuUs = cpuMicros(process.cpuUsage(subjectCpu)) / Math.max(1, logged);
      report(`subject: ${subject.non2xx} non-2xx, ${subject.errors} errors, ${logged} receipts logged`);
      // Closed loop, p99 is mostly queueing: 64 connections over N answers a second wait about 64/N s
      // each (Little's law). The same offered rate to both sides measures latency below saturation.
      report(`both again at ${OPEN_LOOP_RATE} requests/s offered (open loop)`);
      const bareOpen = await cannon(
        new URL('/call', bare.url),
        { 'content-type': 'application/json' },
        body,
        CONNECTIONS,
        { rate: OPEN_LOOP_RATE },
      );
      const subjectOpen = await cannon(
        new URL('/v1/tools/echo/call', bench.url),
        headers,
        body,
        CONNECTIONS,
        {
          rate: OPEN_LOOP_RATE,
        },
      );
      const note = `autocannon -c ${CONNECTIONS} -d ${DURATION_S} in a child process, after an unmeasured run of each; ${defaultSigningWorkers()} signing worker(s); non-2xx ${subject.non2xx}; load average ${loadavg()[0]?.toFixed(1)} at the end`;
      return [
        figure({
          case: 'gateway-tool-calls',
          metric: 'CPU per attested tool call (all threads of the gateway process)',
          unit: 'µs',
          subject: subjectCpuUs,
          baselineName: 'bare Hono/node handler, CPU per request',
          baseline: bareCpuUs,
          note,
        }),
        figure({
          case: 'gateway-tool-calls',
          metric: 'CPU per attested tool call on the event-loop thread',
          unit: 'µs',
          subject: subjectThreads.mainCpuUs,
          baselineName: 'bare Hono/node handler, same thread',
          baseline: bareThreads.mainCpuUs,
          note: `the rest of the CPU per call is other threads (V8's GC and compiler helpers, libuv's fs pool, the signing worker): ${Math.round(subjectCpuUs - subjectThreads.mainCpuUs)} µs (subject), ${Math.round(bareCpuUs - bareThreads.mainCpuUs)} µs (bare); /proc/self/task, 10 ms ticks`,
        }),
        figure({
          case: 'gateway-tool-calls',
          metric: 'GC pause on the event loop per attested tool call',
          unit: 'µs',
          subject: subjectThreads.gcPauseUs,
          baselineName: 'bare Hono/node handler, same',
          baseline: bareThreads.gcPauseUs,
          note: `wall time of the event loop's GC pauses (perf_hooks 'gc' entries: ${subjectThreads.gcs} and ${bareThreads.gcs} collections); the helpers' concurrent GC work is in the other threads' share above`,
        }),
        figure({
          case: 'gateway-tool-calls',
          metric: 'load generator CPU per request (the autocannon process)',
          unit: 'µs',
          subject: subject.loadCpuMicros,
          baselineName: 'same, against the bare handler',
          baseline: baseline.loadCpuMicros,
          note: `server plus load generator per request: ${Math.round(subjectCpuUs + subject.loadCpuMicros)} µs (subject), ${Math.round(bareCpuUs + baseline.loadCpuMicros)} µs (bare); 2 cores hold 2,000,000 µs a second`,
        }),
        figure({
          case: 'gateway-tool-calls',
          metric: 'attested tool calls',
          unit: 'calls/s',
          subject: subject.rps,
          baselineName: 'bare Hono/node handler',
          baseline: baseline.rps,
          goal: { op: '>=', value: 10_000 },
          note,
        }),
        figure({
          case: 'gateway-tool-calls',
          metric: 'attested tool call p99',
          unit: 'ms',
          subject: subject.p99,
          baselineName: 'bare Hono/node handler p99',
          baseline: baseline.p99,
          goal: { op: '<=', value: 10 },
          note: `closed loop at saturation (${CONNECTIONS} connections queue); ${note}`,
        }),
        figure({
          case: 'gateway-tool-calls',
          metric: `attested tool call p99 at ${OPEN_LOOP_RATE} calls/s offered`,
          unit: 'ms',
          subject: subjectOpen.p99,
          baselineName: 'bare Hono/node handler p99, same rate',
          baseline: bareOpen.p99,
          goal: { op: '<=', value: 10 },
          note: `open loop (autocannon -R ${OPEN_LOOP_RATE}); answered ${Math.round(subjectOpen.rps)}/s and ${Math.round(bareOpen.rps)}/s; p50 ${subjectOpen.p50} and ${bareOpen.p50} ms`,
        }),
      ];
    } finally {
      await bare.close();
      await bench.close();
    }
  },
};

/**
 * Where a run's CPU went within this process: the event-loop thread's own CPU (user plus system, from
 * /proc/self/task/PID/stat; NaN where there is no /proc) and its GC pauses, each per request.
 */
function threadSplit(): { end(requests: number): { mainCpuUs: number; gcPauseUs: number; gcs: number } } {
  let pauseMs = 0;
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      pauseMs += entry.duration;
      gcs += 1;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const started = mainThreadCpuMicros();
  return {
    end(requests) {
      // Entries still buffered are delivered by takeRecords, not left to a later turn.
      for (const entry of observer.takeRecords()) {
        pauseMs += entry.duration;
        gcs += 1;
      }
      observer.disconnect();
      const per = Math.max(1, requests);
      return { mainCpuUs: (mainThreadCpuMicros() - started) / per, gcPauseUs: (pauseMs * 1000) / per, gcs };
    },
  };
}

/** The event-loop thread's CPU so far in µs (utime + stime, clock ticks of 10 ms); NaN without /proc. */
function mainThreadCpuMicros(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

/** User plus system time of a process.cpuUsage() difference, in µs. */
function cpuMicros(usage: NodeJS.CpuUsage): number {
  return usage.user + usage.system;
}

/** `count` idle sandboxes straight from the tier, measured like the agents below (GC before and after). */
async function bareSandboxes(count: number) {
  const gc = (globalThis as { gc?: () => void }).gc;
  const tier = await StandardTier.create();
  const manifest = parseManifest({
    apiVersion: 'oacp.dev/v1',
    kind: 'CapabilityManifest',
    name: 'bare',
    quotas: UNLIMITED,
  });
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  const sandboxes: WasmSandbox[] = [];
  const creates: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    sandboxes.push(await tier.start({ manifest }));
    creates.push(performance.now() - started);
  }
  gc?.();
  const rssBytesPerSandbox = (process.memoryUsage().rss - rssBefore) / count;
  const probe = sandboxes[0];
  const runs = await latencies(() => probe?.run('1 + 1'), 200, 20);
  await Promise.all(sandboxes.map((sandbox) => sandbox.stop()));
  return { rssBytesPerSandbox, createMsP50: percentile(creates, 50), runMsP50: percentile(runs, 50) };
}

/** 1,000 agents started and idle in one gateway: start cost and memory, against bare sandboxes. */
const agentsCase: BenchCase = {
  id: 'gateway-agents',
  title: `gateway: ${AGENTS} concurrent running agents, memory per idle agent`,
  async run(report) {
    report(`baseline: ${AGENTS} bare idle standard-tier sandboxes (memory_mb 4)`);
    const bare = await bareSandboxes(AGENTS);
    const bench = await benchGateway();
    try {
      const { agents, runtime } = bench.gateway.services;
      const created: AgentRecord[] = [];
      report(`creating ${AGENTS} agents in the registry`);
      for (let i = 0; i < AGENTS; i++) {
        created.push(
          await agents.create({
            name: `agent-${i}`,
            manifest: {
              apiVersion: 'oacp.dev/v1',
              kind: 'CapabilityManifest',
              name: `agent-${i}`,
              capabilities: { tools: { allow: ['echo'] } },
              quotas: UNLIMITED,
            },
            code: 'let seen = 0; function main(input) { seen += 1; return seen; }',
          }),
        );
      }
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const rssBefore = process.memoryUsage().rss;
      const starts: number[] = [];
      report(`starting ${AGENTS} agents (sandbox, program evaluated, execution receipt each)`);
      for (const agent of created) {
        const started = performance.now();
        await runtime.start({
          did: agent.id,
          name: agent.name,
          manifest: agent.manifest,
          attributes: agent.attributes,
          code: agent.code,
        });
        starts.push(performance.now() - started);
      }
      gc?.();
      const perAgent = (process.memoryUsage().rss - rssBefore) / AGENTS;
      const running = runtime.running();
      const runs = await latencies(() => runtime.run(created[AGENTS - 1]?.id ?? '', { input: {} }), 200, 20);
      report(
        `${running} running; rss per agent ${(perAgent / 1024).toFixed(0)} KiB; gc ${gc === undefined ? 'unavailable' : 'forced'}`,
      );
      const figures: Figure[] = [
        figure({
          case: 'gateway-agents',
          metric: 'agents running at once',
          unit: 'agents',
          subject: running,
          baselineName: 'agents asked for',
          baseline: AGENTS,
          goal: { op: '>=', value: 1000 },
        }),
        figure({
          case: 'gateway-agents',
          metric: 'memory per idle agent (rss growth / agents)',
          unit: 'KiB',
          subject: perAgent / 1024,
          baselineName: 'bare idle sandbox (rss growth / sandboxes)',
          baseline: bare.rssBytesPerSandbox / 1024,
          goal: { op: '<=', value: 1024 },
          note: 'includes the QuickJS runtime, the program, quota ledger and runtime bookkeeping',
        }),
        figure({
          case: 'gateway-agents',
          metric: 'agent start p50 (sandbox + program + execution receipt)',
          unit: 'ms',
          subject: percentile(starts, 50),
          baselineName: 'bare sandbox create p50',
          baseline: bare.createMsP50,
        }),
        figure({
          case: 'gateway-agents',
          metric: 'agent run p50 with execution receipt, 1000 agents up',
          unit: 'ms',
          subject: percentile(runs, 50),
          baselineName: "bare sandbox run('1 + 1') p50",
          baseline: bare.runMsP50,
        }),
      ];
      return figures;
    } finally {
      await bench.close();
    }
  },
};

/** Reading a 4 KiB context value over HTTP, sequentially, against a bare handler serving the same bytes. */
const contextCase: BenchCase = {
  id: 'gateway-context-read',
  title: 'gateway: 4 KiB context read over HTTP',
  async run(report) {
    const bench = await benchGateway();
    const value = 'x'.repeat(4096);
    const bare = await bareServer({ key: 'k', value });
    try {
      const agent = await bench.gateway.services.agents.create({
        name: 'reader',
        manifest: {
          apiVersion: 'oacp.dev/v1',
          kind: 'CapabilityManifest',
          name: 'reader',
          quotas: UNLIMITED,
        },
      });
      const headers = { authorization: `Bearer ${bench.key}` };
      const path = `/v1/agents/${encodeURIComponent(agent.id)}/context/k`;
      await fetch(new URL(path, bench.url), {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ value }),
      }).then((r) => r.text());
      report(`${CONTEXT_READS} sequential reads each`);
      const baseline = await latencies(
        () => fetch(new URL('/read', bare.url)).then((r) => r.text()),
        CONTEXT_READS,
      );
      const subject = await latencies(
        () => fetch(new URL(path, bench.url), { headers }).then((r) => r.text()),
        CONTEXT_READS,
      );
      const note = 'vault read: store transaction decrypting AES-GCM and appending the access-log row';
      return [
        figure({
          case: 'gateway-context-read',
          metric: '4 KiB context read p99',
          unit: 'ms',
          subject: percentile(subject, 99),
          baselineName: 'bare handler, same 4 KiB, p99',
          baseline: percentile(baseline, 99),
          goal: { op: '<=', value: 1 },
          note,
        }),
        figure({
          case: 'gateway-context-read',
          metric: '4 KiB context read p50',
          unit: 'ms',
          subject: percentile(subject, 50),
          baselineName: 'bare handler, same 4 KiB, p50',
          baseline: percentile(baseline, 50),
          note,
        }),
      ];
    } finally {
      await bare.close();
      await bench.close();
    }
  },
};

/** The gateway's cases, for bench/cases/index.ts. */
export const gatewayCases: BenchCase[] = [toolCallCase, agentsCase, contextCase];
