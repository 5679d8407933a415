import { z } from 'zod';
import type { WasmSandbox } from '../../airlock/wasm/wasm-sandbox.js';
import { jcsDigest } from '../../core/jcs.js';

/**
 * What a standard-tier agent keeps between runs: its global variables (`var`
 * declarations and `globalThis` properties) holding plain JSON data. Functions
 * come back from the program's code; `let`/`const` at the top level and
 * closures are not globals and do not move (docs/cluster.md, Migration).
 * Context and checkpoints live in the store and need no moving.
 */
export const AgentStateSchema = z.record(z.string(), z.unknown());
export type AgentState = z.infer<typeof AgentStateSchema>;

/** More than this is refused: state moves in one request, sealed (base64, about 4/3) under the 1 MiB body limit. */
export const MAX_STATE_BYTES = 512 * 1024;

// `input` is set by every run; the host's own globals are non-enumerable.
const CAPTURE = `(() => {
  const plain = (v, depth) => {
    if (depth > 64) return false;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
    if (typeof v === 'number') return Number.isFinite(v);
    if (Array.isArray(v)) return v.every((x) => plain(x, depth + 1));
    if (typeof v !== 'object') return false;
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.keys(v).every((k) => plain(v[k], depth + 1));
  };
  const out = {};
  for (const name of Object.keys(globalThis)) {
    if (name === 'input') continue;
    const value = globalThis[name];
    if (plain(value, 0)) out[name] = value;
  }
  return out;
})()`;

const RESTORE = `(() => { for (const name of Object.keys(input)) globalThis[name] = input[name]; return true; })()`;

/** Reads the agent's state out of its sandbox (no receipt: the migration receipt names its digest). */
export async function captureState(sandbox: WasmSandbox): Promise<{ state: AgentState; digest: string }> {
  const result = await sandbox.run(CAPTURE, null);
  const state = AgentStateSchema.parse(result.value ?? {});
  return { state, digest: stateDigest(state) };
}

/** Puts state captured on another node back, after the program's own code has run. */
export async function restoreState(sandbox: WasmSandbox, state: AgentState): Promise<void> {
  await sandbox.run(RESTORE, state);
}

export function stateDigest(state: AgentState): string {
  return jcsDigest(state);
}
