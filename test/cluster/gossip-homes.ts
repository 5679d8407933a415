import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { nodeWitnessSigner, witnessVerifierKey } from '../../src/cluster/witness-key.js';
import { ApiKeys } from '../../src/gateway/apikeys/api-keys.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { formatVerifierKey, SIG_TYPE_ED25519 } from '../../src/log/note-keys.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { defaultStorePath, openStore } from '../../src/store/open-store.js';
import { type EtcdServer, freePort, startEtcd } from './etcd-server.js';

/** Homes and `oacp gateway` processes (the built CLI) for the checkpoint gossip tests. */
const REPO = join(import.meta.dirname, '..', '..');
const CLI = join(REPO, 'dist', 'cli', 'main.js');
const ENV = { OACP_MASTER_KEY: '22'.repeat(32) };

export interface Home {
  readonly home: string;
  readonly origin: string;
  readonly logKey: string;
  readonly witnessKey: string;
  readonly port: number;
  readonly url: string;
  /** Each home on its own "host": its own signed-size state outside the home. */
  readonly env: Record<string, string>;
}

export async function makeHome(origin: string, copyOf?: Home): Promise<Home> {
  const home = mkdtempSync(join(tmpdir(), 'oacp-gossip-'));
  if (copyOf === undefined) {
    await KeyStore.init(home, { env: ENV });
    writeNodeConfig(home, { version: 1, origin });
  } else {
    cpSync(copyOf.home, home, { recursive: true });
    rmSync(join(home, 'log-gossip'), { recursive: true, force: true });
  }
  const signer = KeyStore.open(home, ENV).logSigner();
  const port = await freePort();
  return {
    home,
    origin,
    logKey: formatVerifierKey(origin, SIG_TYPE_ED25519, signer.publicKey),
    witnessKey: witnessVerifierKey(origin, nodeWitnessSigner(signer)),
    port,
    url: `http://127.0.0.1:${port}`,
    env: { ...ENV, OACP_LOG_STATE_DIR: join(home, '..', `${home.split('/').pop()}.state`) },
  };
}

/** Appends entries to a home's log from this process (any number of writers share a home). */
export async function append(home: Home, texts: string[]): Promise<void> {
  const node = await OacpNode.open(home.home, home.env);
  try {
    for (const text of texts) await node.log.append(new TextEncoder().encode(JSON.stringify({ text })));
    await node.log.sync();
  } finally {
    await node.close();
  }
}

export function startGateway(home: Home, peers: Home[], extra: Record<string, unknown> = {}): ChildProcess {
  const config = join(home.home, 'oacp.yaml');
  writeFileSync(
    config,
    stringify({
      log: {
        gossip_interval_ms: 300,
        peers: peers.map((p) => ({ url: p.url, key: p.logKey, witness_key: p.witnessKey })),
      },
      ...extra,
    }),
  );
  const child = spawn(
    process.execPath,
    [CLI, '--home', home.home, 'gateway', '--config', config, '--listen', `127.0.0.1:${home.port}`],
    { env: { PATH: process.env.PATH ?? '', ...home.env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.resume();
  return child;
}

export async function witnessView(home: Home): Promise<{
  checkpoint: string;
  cosigners: string[];
  cosigned: Record<string, string>;
  peers: { url: string; trusted: boolean; error?: string }[];
  forks: { peer: string; reason: string }[];
}> {
  const response = await fetch(`${home.url}/v1/log/witness`);
  if (!response.ok) throw new Error(`witness view ${response.status}`);
  return (await response.json()) as never;
}

export function cli(home: Home, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, '--home', home.home, ...args], {
    env: { PATH: process.env.PATH ?? '', ...home.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

export async function adminKey(home: Home): Promise<string> {
  const store = await openStore(defaultStorePath(home.home));
  try {
    return (await new ApiKeys({ store }).create({ scopes: ['admin'] })).key;
  } finally {
    await store.close();
  }
}

/** A real etcd and one `oacp gateway` per node, each a cluster member that finds the others in etcd. */
export interface GossipMembers {
  readonly etcd: EtcdServer;
  /** One home per node, in the order given, with origin `oacp.test/<node>`. */
  readonly homes: readonly Home[];
  /** kill -9 of every gateway, etcd stopped, homes removed. */
  stop(): Promise<void>;
}

/**
 * The one way the cluster gossip tests start their members: a fresh etcd, then for each node a
 * home with `entries` log entries (`<node>-1`, `<node>-2`, ...) and a gateway with no `log.peers`
 * and `cluster: { etcd, node_id: <node>, ttl_seconds: 2, ...cluster(node) }`.
 */
export async function startGossipMembers(
  nodes: readonly string[],
  options: { readonly entries: number; readonly cluster?: (node: string) => Record<string, unknown> },
): Promise<GossipMembers> {
  const homes: Home[] = [];
  const children: ChildProcess[] = [];
  let etcd: EtcdServer | undefined;
  const stop = async () => {
    for (const child of children) child.kill('SIGKILL');
    await etcd?.stop();
    for (const home of homes) removeHome(home);
  };
  try {
    etcd = await startEtcd();
    for (const node of nodes) {
      const home = await makeHome(`oacp.test/${node}`);
      homes.push(home);
      await append(
        home,
        Array.from({ length: options.entries }, (_, i) => `${node}-${i + 1}`),
      );
      children.push(
        startGateway(home, [], {
          cluster: { etcd: [etcd.endpoint], node_id: node, ttl_seconds: 2, ...options.cluster?.(node) },
        }),
      );
    }
    return { etcd, homes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Removes a home and its outside signed-size state. */
export function removeHome(home: Home): void {
  rmSync(home.home, { recursive: true, force: true });
  rmSync(home.env.OACP_LOG_STATE_DIR as string, { recursive: true, force: true });
}
