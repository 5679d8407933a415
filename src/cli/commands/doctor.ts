import { doctorReport } from '../../airlock/doctor.js';
import { processTiers } from '../../airlock/process-tiers.js';
import { createTierRegistry } from '../../airlock/tiers.js';
import { StandardTier } from '../../airlock/wasm/standard-tier.js';
import type { CommandRegistrar } from '../program.js';

export const registerDoctor: CommandRegistrar = (program, context) => {
  program
    .command('doctor')
    .description('show which sandbox tiers this host can run, and why not')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const registry = createTierRegistry([...processTiers(), await StandardTier.create()]);
      const report = await doctorReport(registry);
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
    });
};
