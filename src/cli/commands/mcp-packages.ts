import type { Command } from 'commander';
import { UnenforcedList } from '../../mcp/options.js';
import { addPackage } from '../../mcp/packages/add.js';
import { packageCommand } from '../../mcp/packages/command-form.js';
import { sandboxedScripts } from '../../mcp/packages/install-scripts.js';
import { hostNpm } from '../../mcp/packages/npm-cli.js';
import { npmSchemeSpec, parsePackageSpec, specText, unscopedName } from '../../mcp/packages/spec.js';
import { PackageStore } from '../../mcp/packages/store.js';
import { describeDiff } from '../../mcp/packages/tool-diff.js';
import { CliExit } from '../io.js';
import type { CliContext } from '../program.js';
import { collect, parseFlag } from './shared.js';

/** `oacp mcp add` and `oacp mcp update`: servers by package, pinned in the home. */
export function registerMcpPackages(mcp: Command, context: CliContext): void {
  mcp
    .command('add')
    .description('install an npm MCP server into the package store (outside the sandbox) and pin its version')
    .argument('<package>', 'npm:<package>[@version], or an npx command after --')
    .argument('[rest...]')
    .option(
      '--allow-scripts',
      'run the install scripts of the package and its dependencies, in the hardened sandbox without network (off by default)',
    )
    .option(
      '--allow-unenforced <names>',
      'with --allow-scripts: accept limits this host cannot enforce in the kernel (memory,pids,cpu,disk_io,identity); repeatable',
      collect,
      [],
    )
    .action(
      async (
        first: string,
        rest: string[],
        flags: { allowScripts?: boolean; allowUnenforced: string[] },
        cmd: Command,
      ) => {
        const wanted = packageCommand([first, ...rest]) ?? { spec: parsePackageSpec(first) };
        const unenforced = parseFlag('--allow-unenforced', UnenforcedList, flags.allowUnenforced);
        if (unenforced.length > 0 && flags.allowScripts !== true) {
          throw new CliExit('--allow-unenforced applies only with --allow-scripts (nothing else runs)', 2);
        }
        const home = context.home(cmd);
        const log = (line: string) => context.output.err(line);
        const store = new PackageStore(home, hostNpm());
        const scripts =
          flags.allowScripts === true
            ? sandboxedScripts({ home, allowUnenforced: unenforced, log })
            : undefined;
        // The sandbox the scripts need must be there before anything is fetched.
        await scripts?.ready(store.root);
        const { stored, pinned } = await addPackage(store, wanted.spec, log, {
          allowScripts: flags.allowScripts === true,
          // A package pinned with scripts whose tree is gone is fetched again with them.
          scripts: scripts ?? sandboxedScripts({ home, allowUnenforced: [], log }),
        });
        context.output.out(`${stored.name}@${stored.version} sha256:${stored.digest}`);
        if (!pinned) {
          const pin = store.pins.get(stored.name);
          context.output.err(
            `oacp: ${stored.name} stays pinned at ${pin?.version ?? '?'}; to switch: oacp mcp update ${stored.name} --to ${stored.version}`,
          );
          return;
        }
        context.output.err(
          `oacp: added as server "${unscopedName(stored.name)}"; run it: oacp mcp run npm:${stored.name}`,
        );
      },
    );

  mcp
    .command('update')
    .description(
      'move a pinned npm server to a newer version, showing the tools added, removed or redefined first',
    )
    .argument('<package>', 'the package name (npm:<package> also accepted)')
    .option('--to <range>', 'version, range or tag to move to (default latest)')
    .option('--yes', 'switch even though the tools changed (after reading the difference)')
    .option('--tier <tier>', 'tier to start both versions in to list their tools (default hardened)')
    .option(
      '--allow-unenforced <names>',
      'accept limits this host cannot enforce in the kernel (memory,pids,cpu,disk_io,identity) for the install scripts of a package added with --allow-scripts and for the servers started to list tools; repeatable',
      collect,
      [],
    )
    .action(
      async (
        name: string,
        flags: { to?: string; yes?: boolean; tier?: string; allowUnenforced: string[] },
        cmd: Command,
      ) => {
        const spec = npmSchemeSpec(name) ?? parsePackageSpec(name);
        if (spec.range !== undefined) {
          throw new CliExit(`give the version with --to, not in the name (${specText(spec)})`, 2);
        }
        const unenforced = parseFlag('--allow-unenforced', UnenforcedList, flags.allowUnenforced);
        const home = context.home(cmd);
        const log = (line: string) => context.output.err(line);
        const store = new PackageStore(home, hostNpm());
        // Lazily: update starts the server to list its tools (the MCP SDK client).
        const { updatePackage } = await import('../../mcp/packages/update.js');
        const plan = await updatePackage(store, spec.name, {
          home,
          yes: flags.yes === true,
          ...(flags.to === undefined ? {} : { range: flags.to }),
          ...(flags.tier === undefined ? {} : { tier: flags.tier }),
          // Runs only for a package pinned with its scripts on (an update never turns them on).
          scripts: sandboxedScripts({ home, allowUnenforced: unenforced, log }),
          allowUnenforced: unenforced,
          log,
        });
        if (plan.from === plan.to) {
          context.output.out(`${plan.name} is up to date (${plan.from})`);
          return;
        }
        context.output.out(`${plan.name}: ${plan.from} -> ${plan.to}`);
        for (const line of describeDiff(plan.diff)) context.output.out(line);
        if (!plan.switched) {
          throw new CliExit(
            `the tools changed: review the difference above, then switch with: oacp mcp update ${plan.name} --to ${plan.to} --yes`,
            1,
          );
        }
        context.output.out(`pinned ${plan.name}@${plan.to}`);
      },
    );
}
