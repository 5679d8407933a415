import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { OacpLauncher } from '../../clients/entry.js';
import { CLIENTS, type ClientName, defaultConfigPath, FORMATS } from '../../clients/locations.js';
import { CliExit } from '../io.js';
import type { CliContext } from '../program.js';

interface ClientFlags {
  client?: string;
  configPath?: string;
  oacp?: string;
  dryRun?: boolean;
  uninstall?: boolean;
}

/** `oacp mcp install --client X` and `oacp mcp doctor --client X`. */
export function registerMcpClients(mcp: Command, context: CliContext): void {
  mcp
    .command('install')
    .description("rewrite an MCP client's configuration so each server runs through oacp mcp run")
    .requiredOption('--client <name>', `the client: ${CLIENTS.join(', ')}`)
    .option('--config-path <file>', "the client's configuration file (default: where the client keeps it)")
    .option('--oacp <file>', 'the oacp entry point clients should start (default: this one)')
    .option('--dry-run', 'print the new configuration, change nothing')
    .option('--uninstall', 'put back the configuration saved by the first install')
    .action(async (flags: ClientFlags, cmd: Command) => {
      const { client, path } = target(flags, context);
      if (flags.uninstall === true) {
        const { uninstallClient } = await import('../../clients/install.js');
        const { restored } = uninstallClient(path, { dryRun: flags.dryRun === true });
        if (flags.dryRun === true) context.output.out(restored.trimEnd());
        else context.output.err(`oacp: restored ${path} from its backup`);
        return;
      }
      const { installClient } = await import('../../clients/install.js');
      const result = installClient(path, FORMATS[client], launcher(flags, cmd, context), {
        dryRun: flags.dryRun === true,
      });
      if (flags.dryRun === true) context.output.out(result.content.trimEnd());
      for (const name of result.wrapped) context.output.err(`oacp: ${name}: now runs through oacp mcp run`);
      for (const name of result.already) context.output.err(`oacp: ${name}: already runs through OACP`);
      for (const { name, reason } of result.skipped)
        context.output.err(`oacp: ${name}: left as it was: ${reason}`);
      if (flags.dryRun !== true && result.backup !== undefined) {
        context.output.err(
          `oacp: wrote ${path} (original saved as ${result.backup}; --uninstall restores it)`,
        );
      }
    });

  mcp
    .command('doctor')
    .description("check that a client's MCP servers run through OACP")
    .requiredOption('--client <name>', `the client: ${CLIENTS.join(', ')}`)
    .option('--config-path <file>', "the client's configuration file")
    .option('--oacp <file>', 'the oacp entry point clients should start (default: this one)')
    .action(async (flags: ClientFlags, cmd: Command) => {
      const { client, path } = target(flags, context);
      const { checkClient } = await import('../../clients/doctor.js');
      const findings = checkClient(path, FORMATS[client], launcher(flags, cmd, context));
      for (const finding of findings) {
        context.output.out(`${finding.ok ? 'ok  ' : 'FAIL'} ${finding.server}: ${finding.detail}`);
      }
      if (findings.some((finding) => !finding.ok)) process.exitCode = 1;
    });
}

function target(flags: ClientFlags, context: CliContext): { client: ClientName; path: string } {
  const client = CLIENTS.find((name) => name === flags.client);
  if (client === undefined) {
    throw new CliExit(
      `--client must be one of ${CLIENTS.join(', ')}, not ${JSON.stringify(flags.client)}`,
      2,
    );
  }
  const path =
    flags.configPath === undefined
      ? defaultConfigPath(client, {
          home: context.env.HOME ?? homedir(),
          cwd: process.cwd(),
          platform: process.platform,
          ...(context.env.APPDATA === undefined ? {} : { appData: context.env.APPDATA }),
        })
      : resolve(flags.configPath);
  return { client, path };
}

/**
 * Clients start servers with a bare environment (often no PATH of the user's
 * shell), so the launcher is absolute: this node and this oacp's main.js,
 * plus `--home` when one was given.
 */
function launcher(flags: ClientFlags, cmd: Command, context: CliContext): OacpLauncher {
  const main = flags.oacp ?? fileURLToPath(new URL('../main.js', import.meta.url));
  if (!isAbsolute(main) || !existsSync(main)) {
    throw new CliExit(
      `--oacp: ${main} does not exist (give the absolute path of oacp's dist/cli/main.js)`,
      2,
    );
  }
  const home = cmd.optsWithGlobals<{ home?: string }>().home;
  return {
    command: process.execPath,
    args: [main, ...(home === undefined ? [] : ['--home', resolve(context.home(cmd))])],
  };
}
