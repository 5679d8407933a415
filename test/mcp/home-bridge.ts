import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { KeyStore } from '../../src/identity/keystore.js';
import { signRequest } from '../../src/identity/signed-request.js';
import { AGENT_REQUEST_META, toolCallPayload, toolCallPurpose } from '../../src/mcp/principal.js';
import { writeNodeConfig } from '../../src/node/node-config.js';
import { scratchDir } from '../scratch-dirs.js';
import { RAW_SERVER } from './raw-harness.js';

/**
 * Real `oacp mcp run` processes on one home, for the tests of what a home
 * keeps for all its processes (nonces, call quotas, the store's record): the
 * built binary, a home, a line client, a signed call, a bridge that refuses
 * to start.
 */
export const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

type Message = Record<string, unknown>;

/** A home with keys and a node config, made in this process (what `oacp init` makes). */
export async function bridgeHome(): Promise<string> {
  const home = scratchDir('oacp-home-');
  await KeyStore.init(home, { env: {} });
  writeNodeConfig(home, { version: 1, origin: 'test.oacp.invalid/nonces' });
  return home;
}

export interface BridgeCommand {
  /** `oacp mcp run` flags before `--`. */
  readonly flags?: readonly string[];
  /** The server after `--`; the raw test server by default. */
  readonly server?: readonly string[];
  /** A module node imports first (a clock running ahead). */
  readonly preload?: string;
}

/** node's arguments for `oacp --home HOME mcp run FLAGS -- SERVER`. */
export function bridgeArgs(home: string, command: BridgeCommand = {}): string[] {
  return [
    ...(command.preload === undefined ? [] : ['--import', command.preload]),
    BIN,
    '--home',
    home,
    'mcp',
    'run',
    ...(command.flags ?? ['--tier', 'light', '--name', 'raw']),
    '--',
    ...(command.server ?? [process.execPath, RAW_SERVER]),
  ];
}

/** Writes lines to a bridge's stdin and resolves each request with the answer of its id. */
export function lineClient(toBridge: NodeJS.WritableStream, fromBridge: NodeJS.ReadableStream) {
  const answers = new Map<unknown, Message>();
  let pending = '';
  fromBridge.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      const message = JSON.parse(part) as Message;
      if (message.id !== undefined && message.method === undefined) answers.set(message.id, message);
    }
  });
  return async (message: Message): Promise<Message> => {
    toBridge.write(`${JSON.stringify(message)}\n`);
    const deadline = Date.now() + 20_000;
    while (!answers.has(message.id)) {
      if (Date.now() > deadline) throw new Error(`no answer to ${String(message.id)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return answers.get(message.id) as Message;
  };
}

export interface HomeBridge {
  readonly child: ChildProcessWithoutNullStreams;
  /** Sends a request and resolves with its whole answer as JSON text. */
  request(message: Message): Promise<string>;
  /** Ends the bridge's stdin and waits for it to exit. */
  close(): Promise<void>;
}

export function spawnBridge(home: string, command: BridgeCommand = {}): HomeBridge {
  const child = spawn(process.execPath, bridgeArgs(home, command), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  const request = lineClient(child.stdin, child.stdout);
  return {
    child,
    request: async (message) => JSON.stringify(await request(message)),
    close: async () => {
      child.stdin.end();
      if (child.exitCode === null && child.signalCode === null)
        await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** Starts a bridge expected not to start: its exit code (null if it started) and all it wrote on stderr. */
export async function bridgeRefusal(
  home: string,
  command: BridgeCommand = {},
): Promise<{ readonly code: number | null; readonly stderr: string }> {
  const child = spawn(process.execPath, bridgeArgs(home, command), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // A bridge that started after all would wait for its client for ever: stopped, and said so.
  const started = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(started);
  child.stdin.destroy();
  return { code, stderr: code === null ? `${stderr}(the bridge started; stopped after 20 s)` : stderr };
}

/** A tools/call signed with a key made for it; the same signed request can be sent under several JSON-RPC ids. */
export function signedToolCall(tool: string, args: Record<string, unknown>, signedAt?: () => number) {
  const signed = signRequest(keySigner(generateEd25519().privateKey), {
    purpose: toolCallPurpose(tool),
    payload: toolCallPayload(tool, args),
    ...(signedAt === undefined ? {} : { now: signedAt }),
  });
  return (id: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: tool, arguments: args, _meta: { [AGENT_REQUEST_META]: signed } },
  });
}
