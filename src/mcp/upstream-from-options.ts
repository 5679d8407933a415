import { basename, join } from 'node:path';
import { readAccountHomes } from '../airlock/native/protected-paths.js';
import { requestBudget } from '../airlock/quota/request-budget.js';
import type { ProcessSandbox, TierName } from '../airlock/sandbox.js';
import { OacpError } from '../core/errors.js';
import type { SecretValues } from '../core/secret-values.js';
import { escapeControl } from '../core/terminal-text.js';
import { relativeArgumentsLine } from './diagnose/relative-arguments.js';
import type { StderrTail } from './diagnose/stderr-tail.js';
import type { McpErrorCode } from './errors.js';
import { StampedDigester } from './file-digests.js';
import { implicitReadPaths } from './implicit-paths.js';
import { type LazyHomeQuotas, networkBudgetKey } from './lazy-home-quotas.js';
import { manifestFromOptions } from './manifest-from-options.js';
import type { McpRunOptions } from './options.js';
import { packageCommand } from './packages/command-form.js';
import { launchFor } from './packages/launch.js';
import { unscopedName } from './packages/spec.js';
import type { TreeStamps } from './packages/tree-stamp.js';
import {
  remoteServerIdentity,
  type ServerIdentity,
  serverIdentity,
  withAbsoluteScript,
} from './server-identity.js';
import { requireTier, type TierLookup } from './tiers.js';
import { processUpstream, type UpstreamConnector, urlUpstream } from './upstream.js';

/**
 * The upstream the options describe: a remote URL, or the command started in
 * the requested tier with the manifest the flags build and the server's own
 * code readable.
 */
export async function upstreamFor(
  options: McpRunOptions,
  context: {
    readonly env?: Readonly<Record<string, string | undefined>>;
    /** The OACP home: its package store serves npm:/npx servers, and no grant may overlap it. */
    readonly home?: string;
    readonly tiers?: TierLookup;
    readonly onSandbox?: (sandbox: ProcessSandbox) => void;
    /** Keeps the server's last stderr lines, to say why it stopped. */
    readonly stderrTail?: StderrTail;
    /** Where the server's stderr lines go (`log` by default), e.g. held until the bridge's first line. */
    readonly serverLog?: (line: string) => void;
    /** What the server is handed (its tokens): masked out of any line of its stdout the bridge quotes. */
    readonly secrets?: SecretValues;
    /** Tree stamps started earlier (TreeStamps): the package store's check uses them. */
    readonly stamps?: TreeStamps;
    /** The home's quota engine: the server's network budget is a bucket there; without it, one in memory. */
    readonly quotas?: Pick<LazyHomeQuotas, 'engine'>;
  },
  log: (line: string) => void,
): Promise<UpstreamConnector> {
  if (options.upstream !== undefined) {
    const url = new URL(options.upstream);
    return urlUpstream({ identity: remoteServerIdentity(options.name ?? url.hostname, url), url });
  }
  if (options.command[0] === undefined) {
    throw new OacpError<McpErrorCode>('MCP_BAD_OPTIONS', 'no server command given');
  }
  // The tier's availability probe (a bwrap or runsc run) is a child process: started now, it runs on another
  // core while the package tree is checked below. Awaited after it, so errors keep their order.
  const tierReady = requireTier(options.tier as TierName, context.tiers);
  tierReady.catch(() => undefined);
  // Installing a package can take minutes: every refusal that does not depend on the package (the tier
  // missing, limits this host cannot enforce) comes first, with nothing installed. A tree already in the
  // store is verified meanwhile (GNU find, beside the tier's probe): only an install waits for the check.
  const refusalsFirst =
    packageCommand(options.command) === undefined
      ? Promise.resolve()
      : tierReady.then((tier) => tier.checkLimits?.(manifestFromOptions(options, options.name ?? 'server')));
  refusalsFirst.catch(() => undefined);
  const launching = launchFor(options.command, {
    ...(context.home === undefined ? {} : { home: context.home }),
    log,
    beforeInstall: () => refusalsFirst,
    ...(context.stamps === undefined ? {} : { stamps: context.stamps }),
    allowUnenforced: options.allowUnenforced,
    ...(context.tiers === undefined ? {} : { tiers: context.tiers }),
  });
  launching.catch(() => undefined);
  // The account table and the home registries (every registered home's markers) are read while the
  // tree's stamp and the tier's probe run in their child processes, not after them.
  const accounts = readAccountHomes();
  await refusalsFirst;
  const launch = await launching;
  const { command, args } = launch;
  const identity = {
    ...serverIdentity(
      options.name ?? 'server',
      command,
      args,
      // The node executable is ~100 MB: hashed once per home, again only when its stamp moves.
      ...(context.home === undefined
        ? []
        : [new StampedDigester(join(context.home, 'mcp', 'file-digests.json'))]),
    ),
    ...(launch.tree === undefined ? {} : { tree: launch.tree }),
  };
  const named = options.name === undefined ? { ...identity, name: defaultName(identity) } : identity;
  const manifest = manifestFromOptions(options, named.name);
  // Only the sandboxed tiers start a server elsewhere than here (light runs it in this directory).
  const relative =
    options.tier === 'light'
      ? undefined
      : relativeArgumentsLine(
          named.name,
          // The interpreter's script is made absolute (withAbsoluteScript): not one of these.
          withAbsoluteScript(command, args),
        );
  if (relative !== undefined) log(context.secrets === undefined ? relative : context.secrets.mask(relative));
  const tier = await tierReady;
  const protectedPaths = context.home === undefined ? [] : [context.home];
  const implicit = implicitReadPaths(named, protectedPaths, accounts);
  const candidateEnv = context.env ?? process.env;
  const { secrets } = context;
  // One network budget for every start of this server: a server that exits (the bridge starts it
  // again) or each --http session's own server would otherwise get a full network_requests_per_min.
  // On the home's store it is also one for every process on the home: a new `oacp mcp run` of the
  // server (or the same one restarted) finds the budget as the last one left it.
  const { quotas } = context;
  const egressLimiter = requestBudget(
    manifest.quotas,
    quotas === undefined ? undefined : { engine: () => quotas.engine(), key: networkBudgetKey(named.name) },
  );
  return processUpstream({
    identity: named,
    start: () =>
      tier.start({
        command,
        args: withAbsoluteScript(command, args),
        manifest,
        implicitReadPaths: implicit,
        protectedPaths,
        env: candidateEnv,
        egressLimiter,
      }),
    stderr: (line) => {
      context.stderrTail?.push(line);
      (context.serverLog ?? log)(`[${named.name}] ${escapeControl(line)}`);
    },
    ...(context.onSandbox === undefined ? {} : { onSandbox: context.onSandbox }),
    notice: (line) => log(`oacp: ${named.name}: ${line}`),
    ...(secrets === undefined ? {} : { mask: (text: string) => secrets.mask(text) }),
  });
}

/**
 * The installed package's name, or the nearest package's name when the code that runs IS that
 * package's entry (a `bin` target or `main`), without its scope; else the script's or command's
 * base name (without a .js, .mjs or .cjs extension). Any other script below some package.json
 * (a fixture in a repository) is not that package.
 * Cut to a policy-safe name.
 */
export function defaultName(identity: ServerIdentity): string {
  const code = identity.script?.path ?? identity.executable?.path;
  const isEntry = code !== undefined && identity.package?.entries.includes(code) === true;
  const scoped = identity.tree?.name ?? (isEntry ? identity.package?.name : undefined);
  const pkg = scoped === undefined ? undefined : unscopedName(scoped);
  const raw =
    pkg ??
    (identity.script === undefined
      ? basename(identity.command ?? 'server')
      : basename(identity.script.path).replace(/\.[cm]?js$/, ''));
  const cleaned = raw.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return cleaned.slice(0, 64) || 'server';
}
