import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SecretValues } from '../core/secret-values.js';
import { readNodeConfig } from '../node/node-config.js';
import { Catalog } from './catalog/catalog.js';
import { ParsedCatalogEntries } from './catalog/parsed-entries.js';
import { withCatalogEntry } from './catalog/run-input.js';
import { configuredServers } from './configured-servers.js';
import { HeldLog } from './held-log.js';
import type { HttpBridge } from './http.js';
import { type LazyHomeQuotas, lazyHomeQuotas } from './lazy-home-quotas.js';
import { type McpRunOptions, type McpRunOptionsInput, parseMcpRunOptions } from './options.js';
import type { TreeStamps } from './packages/tree-stamp.js';
import { passedSecretValues } from './passed-secrets.js';
import { prepareServer } from './prepare-server.js';
import type { TierLookup } from './tiers.js';

export interface McpRunContext {
  /** The OACP home (`oacp init` must have run): keys, log, pins. */
  readonly home: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The client's side in stdio mode; the process's own by default. */
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  /** Diagnostics, one line each (stderr by default: stdout is the protocol); every line masked by `secrets`. */
  readonly log?: (line: string) => void;
  /**
   * The process's live secret values (the CLI's, so its own error lines are masked too; a new one by
   * default): the values handed to the servers and the master key's forms are registered with it.
   */
  readonly secrets?: SecretValues;
  /** Ends the bridge (HTTP mode runs until aborted). */
  readonly signal?: AbortSignal;
  readonly tiers?: TierLookup;
  /**
   * With `--config FILE`: the file's servers as bridge options, loaded by the
   * caller with the oacp.yaml schema (gateway/config mcpServersFromFile).
   */
  readonly servers?: ReadonlyMap<string, McpRunOptions>;
  /** The catalog whose pinned tool definitions apply (the shipped one by default). */
  readonly catalog?: Catalog;
  /** Told the listening URLs in HTTP mode. */
  readonly onListening?: (http: HttpBridge) => void;
  /**
   * The package tree's stamp, started by the caller while this module loaded (TreeStamps): used by the
   * early start's check only, never by a server started later (HTTP sessions, --config, a failed early path).
   */
  readonly stamps?: TreeStamps;
  /**
   * The tiers, the asked tier's availability probe started by the caller while this module loaded (probingTiers):
   * used by the early start only (unless `tiers` is given), like `stamps`.
   */
  readonly probing?: TierLookup;
  /** The home's quota engine (servers' network budgets); one opened on first use, closed at the end, when absent. */
  readonly quotas?: LazyHomeQuotas;
}

/**
 * `oacp mcp run`: starts the server in the Airlock and serves its client over
 * stdio (until the client goes) or Streamable HTTP (until `signal` aborts).
 * Resolves when the bridge has stopped and every receipt is in the log.
 */
export async function runMcpCommand(input: McpRunOptionsInput, context: McpRunContext): Promise<void> {
  const catalog =
    context.catalog ??
    new Catalog(undefined, new ParsedCatalogEntries(join(context.home, 'mcp', 'catalog-entries.json')));
  const options = parseMcpRunOptions(input.catalog === undefined ? input : withCatalogEntry(input, catalog));
  const env = context.env ?? process.env;
  // Read before anything starts (by the caller, with the one oacp.yaml schema): a bad file must not leave a half-started bridge.
  const configured = options.config === undefined ? undefined : configuredServers(options, context.servers);
  // What the servers are handed (their tokens) may come back in their errors and stderr: never in OACP's lines.
  const secrets = context.secrets ?? new SecretValues();
  for (const server of [options, ...(configured?.values() ?? [])])
    secrets.add(passedSecretValues(server, env));
  const sink = context.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = (line: string): void => sink(secrets.mask(line));
  // A stdio bridge for one server (what MCP clients start) starts its server as soon as the package tree and
  // the tier are checked, so the server boots while the log, the signer and the session are set up below.
  // Only in an initialised home: nothing is written to a directory that `oacp init` has not made.
  // The server's stderr is held until the bridge's first line is out (package notes are not: an install can take a while).
  const held = new HeldLog(log);
  // Every server's network budget is a bucket of the home's store, shared with every process on the home.
  const quotas = context.quotas ?? lazyHomeQuotas(context.home);
  // The servers' stdout lines the bridge quotes are masked with the same values.
  const { stamps, probing, ...later } = { ...context, secrets, quotas };
  const tiers = context.tiers ?? probing;
  const early =
    configured === undefined && options.http === undefined && initialised(context.home)
      ? prepareServer(
          options,
          { ...context, secrets, quotas, ...(tiers === undefined ? {} : { tiers }) },
          log,
          {
            serverLog: held.line,
          },
        )
      : undefined;
  early?.catch(() => undefined);
  try {
    // The bridge's own modules (log, receipts, session, policy) load once the server is started, beside its boot:
    // loaded earlier, they held this thread while the tree check (a child process) had finished, delaying the start.
    await early?.catch(() => undefined);
    const { runBridge } = await import('./run-bridge.js');
    await runBridge(options, configured, later, { log, env, catalog, held, secrets }, early);
  } finally {
    held.release();
    // A bridge that failed to set up stops the server it started early; a claimed one was stopped by its session.
    await (await early?.catch(() => undefined))?.discard();
    if (context.quotas === undefined) await quotas.close();
  }
}

/** Whether `oacp init` made this home (else OacpNode.open says what is wrong, before anything starts). */
function initialised(home: string): boolean {
  try {
    readNodeConfig(home);
    return true;
  } catch {
    return false;
  }
}
