import type { CommandRegistrar } from '../program.js';

/** One top-level `oacp` command and how to load its module. */
export interface CommandEntry {
  readonly name: string;
  readonly load: () => Promise<CommandRegistrar>;
}

/**
 * Every `oacp` subcommand, in help order, loaded on demand: `oacp mcp run`
 * (started by an MCP client for every session) must not pay for the
 * gateway, the model gateway, the cluster or the A2A stack. A new command is
 * one line here.
 */
export const commandTable: readonly CommandEntry[] = [
  { name: 'init', load: async () => (await import('./init.js')).registerInit },
  { name: 'agent', load: async () => (await import('./agent.js')).registerAgent },
  { name: 'keys', load: async () => (await import('./keys.js')).registerKeys },
  { name: 'mcp', load: async () => (await import('./mcp.js')).registerMcp },
  { name: 'run', load: async () => (await import('./run.js')).registerRun },
  { name: 'gateway', load: async () => (await import('./gateway.js')).registerGateway },
  { name: 'cluster', load: async () => (await import('./cluster.js')).registerCluster },
  { name: 'config', load: async () => (await import('./config.js')).registerConfig },
  { name: 'a2a', load: async () => (await import('./a2a.js')).registerA2a },
  { name: 'policy', load: async () => (await import('./policy.js')).registerPolicy },
  { name: 'verify', load: async () => (await import('./verify.js')).registerVerify },
  { name: 'log', load: async () => (await import('./log.js')).registerLog },
  { name: 'store', load: async () => (await import('./store.js')).registerStore },
  { name: 'doctor', load: async () => (await import('./doctor.js')).registerDoctor },
  { name: 'demo', load: async () => (await import('./demo.js')).registerDemo },
];

/**
 * The registrars `argv` needs: only the named command's when the first word
 * names one (after the global `--home DIR`), none for `--version` (it prints
 * and exits before any command runs), else all of them (help, a mistyped
 * command and its suggestion).
 */
export async function registrarsFor(argv: readonly string[]): Promise<CommandRegistrar[]> {
  const first = firstWord(argv, true);
  if (first === '-V' || first === '--version') return [];
  const named = commandTable.find((entry) => entry.name === firstWord(argv));
  const wanted = named === undefined ? commandTable : [named];
  return Promise.all(wanted.map((entry) => entry.load()));
}

/** The command `argv` names (its first word after the global `--home DIR`), if any. */
export function commandName(argv: readonly string[]): string | undefined {
  return firstWord(argv);
}

function firstWord(argv: readonly string[], keepOptions = false): string | undefined {
  for (let at = 0; at < argv.length; at++) {
    const arg = argv[at] ?? '';
    if (arg === '--home') {
      at++;
      continue;
    }
    if (arg.startsWith('--home=')) continue;
    return arg.startsWith('-') && !keepOptions ? undefined : arg;
  }
  return undefined;
}
