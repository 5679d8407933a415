import type { Command } from 'commander';
import { doctorReport } from '../../airlock/doctor.js';
import { homeGuardProblem } from '../../airlock/native/protected-identity.js';
import { protectedPaths } from '../../airlock/native/protected-paths.js';
import { processTiers } from '../../airlock/process-tiers.js';
import { createTierRegistry } from '../../airlock/tiers.js';
import { StandardTier } from '../../airlock/wasm/standard-tier.js';
import { loadGatewayConfig } from '../../gateway/config/load.js';
import { httpBridges } from '../../mcp/http-bridge-record.js';
import { defaultStorePath } from '../../store/open-store.js';
import { CliExit } from '../io.js';
import type { CliContext, CommandRegistrar } from '../program.js';
import { describeHttpBridges } from './doctor-mcp-http.js';
import { doctorModels } from './doctor-models.js';
import { homeLogKey } from './log-key.js';
import { homeStoreStatus, type StoreStatus } from './store.js';

export const registerDoctor: CommandRegistrar = (program, context) => {
  program
    .command('doctor')
    .description('show which sandbox tiers this host can run, and why not')
    .option('--json', 'print the report as JSON')
    .option('--config <file>', 'oacp.yaml: also probe its model providers (docs/model-gateway.md)')
    .action(async (options: { json?: boolean; config?: string }, command) => {
      let config: ReturnType<typeof loadGatewayConfig> | undefined;
      try {
        config = options.config === undefined ? undefined : loadGatewayConfig(options.config);
      } catch (error) {
        throw new CliExit(`--config: ${error instanceof Error ? error.message : String(error)}`, 2);
      }
      const registry = createTierRegistry([
        ...processTiers({ hardened: { freshProbe: true } }),
        await StandardTier.create(),
      ]);
      const tiers = await doctorReport(registry);
      const models =
        config === undefined || config.models.providers.length === 0
          ? undefined
          : await doctorModels(config, context.home(command), context.env, context.secrets);
      const homeProblem = homeGuardProblem(protectedPaths([context.home(command)], context.env));
      const home = {
        ok: homeProblem === undefined,
        ...(homeProblem === undefined ? {} : { detail: homeProblem }),
      };
      const store = await storeStatusOrWhy(context.home(command));
      const bridges = httpBridges(context.home(command));
      const report =
        models === undefined
          ? { ...tiers, home, store, mcpHttp: bridges }
          : { ...tiers, home, store, mcpHttp: bridges, models };
      const { out } = context.output;
      if (options.json === true) {
        out(JSON.stringify(report, null, 2));
        return;
      }
      out('tier       available  detail');
      for (const row of report.tiers) {
        out(`${row.tier.padEnd(10)} ${(row.available ? 'yes' : 'no').padEnd(10)} ${row.detail}`);
        if (row.remedy !== undefined) out(`${' '.repeat(22)}to enable: ${row.remedy}`);
      }
      out('');
      out('host');
      for (const fact of report.host) out(`  ${fact.ok ? 'ok  ' : 'no  '} ${fact.name}: ${fact.detail}`);
      out('');
      // The same check every hardened or gVisor start makes: a sandbox is refused while this says no.
      out(
        `home guard: ${homeProblem === undefined ? 'ok (every key file has one name and could be checked)' : `no: ${homeProblem}`}`,
      );
      out(`log key (the console's expected log key): ${logKeyOrWhy(context, command)}`);
      out(`quota store (${store.location}): ${store.ok ? 'ok' : 'no'}: ${store.detail}`);
      for (const line of describeHttpBridges(bridges)) out(line);
      if (models === undefined) return;
      out('');
      out(`model providers (keys ${models.keys})`);
      for (const { name, kind, origin, probe } of models.providers) {
        const answer = probe.reachable
          ? `reachable, HTTP ${probe.status} in ${probe.latencyMs} ms, key ${probe.key}`
          : `unreachable (${probe.error})`;
        out(
          `  ${probe.reachable && probe.error === undefined ? 'ok  ' : 'no  '} ${name} (${kind}, ${origin}): ${answer}`,
        );
      }
    });
};

function logKeyOrWhy(context: CliContext, command: Command): string {
  try {
    return homeLogKey(context, command);
  } catch (error) {
    return `none (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** The home's own store (gateway.db), as the bridge's quotas and a gateway without gateway.store use it. */
async function storeStatusOrWhy(home: string): Promise<StoreStatus> {
  try {
    return await homeStoreStatus(home);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, location: defaultStorePath(home), detail };
  }
}
