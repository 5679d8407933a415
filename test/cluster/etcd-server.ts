import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';

/**
 * A throwaway single-member etcd for tests: a temp data dir, free loopback
 * ports, killed and removed by stop(). Debian's etcd-server at /usr/bin/etcd.
 */
export interface EtcdServer {
  readonly endpoint: string;
  /** kill -9 of the member, `downMs` of outage, then the same member started again on its data. */
  restart(downMs?: number): Promise<void>;
  /** SIGSTOP of the member for `ms`, then SIGCONT: connections stay open, nothing answers. */
  pause(ms: number): Promise<void>;
  stop(): Promise<void>;
}

const ETCD = '/usr/bin/etcd';

export function etcdUnavailable(): string | undefined {
  return existsSync(ETCD) ? undefined : `etcd not found at ${ETCD} (apt-get install etcd-server)`;
}

/**
 * Where a test etcd keeps its data: tmpfs (/dev/shm) when there is one. etcd fsyncs its WAL on
 * every write, and on a disk a full CI run is loading one fsync can take seconds; every write and
 * linearizable read waits behind it, so a node's drain or placement stalls past the lease TTL and
 * an agent is re-placed without its state, which is not what these tests are about. A SIGKILLed
 * member still finds its data there when it is started again (restart()).
 */
function etcdDataRoot(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startEtcd(): Promise<EtcdServer> {
  const dir = mkdtempSync(join(etcdDataRoot(), 'oacp-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${client}`;
  const args = [
    '--name',
    'test',
    '--data-dir',
    join(dir, 'data'),
    '--listen-client-urls',
    endpoint,
    '--advertise-client-urls',
    endpoint,
    '--listen-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-cluster',
    `test=http://127.0.0.1:${peer}`,
    '--log-level',
    'error',
  ];
  let running = await spawnEtcd(args, endpoint);
  return {
    endpoint,
    async restart(downMs = 0) {
      running.child.kill('SIGKILL');
      await running.exited;
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      // Same data directory and ports: the member comes back with its keys and leases.
      running = await spawnEtcd(args, endpoint);
    },
    async pause(ms) {
      running.child.kill('SIGSTOP');
      try {
        await new Promise((resolve) => setTimeout(resolve, ms));
      } finally {
        running.child.kill('SIGCONT');
      }
    },
    async stop() {
      running.child.kill('SIGCONT');
      running.child.kill('SIGKILL');
      await running.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real multi-member etcd on loopback ports: members can be killed and started again on their data. */
export interface EtcdCluster {
  /** Client URLs of every member, in order. */
  readonly endpoints: readonly string[];
  /** kill -9 of member i. */
  kill(i: number): Promise<void>;
  /** Member i again, on its data directory and ports. */
  start(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(etcdDataRoot(), 'oacp-etcd-cluster-'));
  const members: { name: string; client: string; peer: string }[] = [];
  for (let i = 0; i < size; i++) {
    const [client, peer] = [await freePort(), await freePort()];
    members.push({ name: `m${i}`, client: `http://127.0.0.1:${client}`, peer: `http://127.0.0.1:${peer}` });
  }
  const initial = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const argsOf = (i: number) => {
    const m = members[i] as { name: string; client: string; peer: string };
    return [
      '--name',
      m.name,
      '--data-dir',
      join(dir, m.name),
      '--listen-client-urls',
      m.client,
      '--advertise-client-urls',
      m.client,
      '--listen-peer-urls',
      m.peer,
      '--initial-advertise-peer-urls',
      m.peer,
      '--initial-cluster',
      initial,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      'oacp-test',
      '--log-level',
      'error',
    ];
  };
  const running: ({ child: ChildProcess; exited: Promise<void> } | undefined)[] = [];
  const stopAll = async () => {
    for (const member of running) member?.child.kill('SIGKILL');
    await Promise.all(running.map((member) => member?.exited));
  };
  try {
    // Started together: the first put of each probe waits for the cluster to have a leader.
    const started = await Promise.all(members.map((m, i) => spawnEtcd(argsOf(i), m.client)));
    running.push(...started);
  } catch (error) {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoints: members.map((m) => m.client),
    async kill(i) {
      running[i]?.child.kill('SIGKILL');
      await running[i]?.exited;
      running[i] = undefined;
    },
    async start(i) {
      const m = members[i] as { name: string; client: string; peer: string };
      // Without quorum a put cannot succeed: just wait until the member answers on its port.
      running[i] = await spawnEtcd(argsOf(i), m.client, false);
    },
    async stop() {
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function spawnEtcd(
  args: readonly string[],
  endpoint: string,
  waitForWrites = true,
): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const child: ChildProcess = spawn(ETCD, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const probe = new Etcd3({ hosts: endpoint, dialTimeout: 1_000 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        if (waitForWrites) await probe.put('/probe').value('1');
        else await waitForPort(endpoint);
        break;
      } catch (error) {
        if (attempt > 100 || child.exitCode !== null) {
          child.kill('SIGKILL');
          throw new Error(`etcd did not start: ${stderr || String(error)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    probe.close();
  }
  return { child, exited };
}

function waitForPort(endpoint: string): Promise<void> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** A TCP relay to etcd that a test can cut, to partition one node from the cluster. */
export interface Relay {
  readonly endpoint: string;
  cut(): Promise<void>;
  /**
   * Holds what etcd sends the node (answers, watch events) until the returned release is called,
   * then delivers it in order; the node's requests still reach etcd. A node that is slow to hear.
   */
  hold(): () => void;
}

export async function startRelay(target: string): Promise<Relay> {
  const url = new URL(target);
  const sockets = new Set<Socket>();
  let held: Array<() => void> | undefined;
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(url.port), url.hostname);
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => {
      if (held === undefined) inbound.write(chunk);
      else held.push(() => inbound.write(chunk));
    });
    outbound.on('end', () => (held === undefined ? inbound.end() : held.push(() => inbound.end())));
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    }),
  );
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async cut() {
      // close() waits for open connections to end, so end them too.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    hold() {
      const queue: Array<() => void> = [];
      held = queue;
      return () => {
        if (held !== queue) return;
        held = undefined;
        for (const deliver of queue) deliver();
      };
    },
  };
}
