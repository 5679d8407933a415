import type { Command } from 'commander';
import { Catalog } from '../../mcp/catalog/catalog.js';
import { runFlags } from '../../mcp/catalog/entry.js';
import type { CliContext } from '../program.js';

/** `oacp mcp search WORD` and `oacp mcp show NAME`: the catalog shipped with OACP. */
export function registerMcpCatalog(mcp: Command, context: CliContext): void {
  mcp
    .command('search')
    .description('search the catalog of reviewed MCP servers shipped with OACP')
    .argument('[word]', 'a word in the name, package, description or a tool name (all when absent)')
    .action((word: string | undefined) => {
      const found = new Catalog().search(word ?? '');
      for (const entry of found) {
        context.output.out(
          `${entry.name.padEnd(20)} ${entry.package}@${entry.version}  ${entry.description}`,
        );
      }
      if (found.length === 0) context.output.err(`oacp: no catalogued server matches "${word ?? ''}"`);
    });

  mcp
    .command('show')
    .description('show a catalogued server: trust note, capabilities, pinned tools, and how to run it')
    .argument('<name>', 'the catalog name (oacp mcp search lists them)')
    .action((name: string) => {
      const catalog = new Catalog();
      const entry = catalog.get(name);
      const caps = entry.capabilities;
      const out = (line: string) => context.output.out(line);
      out(`${entry.name}: ${entry.description}`);
      out(`package    ${entry.package}@${entry.version} (tree sha256 ${entry.tree_digest})`);
      out(`publisher  ${entry.trust.publisher}`);
      out(`trust      ${entry.trust.note}`);
      out(`signed     by the catalog key ${catalog.keyDid} (verified)`);
      out(`files      read ${list(caps.file_read)}; write ${list(caps.file_write)}`);
      out(`network    ${list(caps.network.allowlist)}`);
      out(`env        ${list(caps.env)}`);
      if (caps.unix_sockets === true)
        out(
          'unix       socket(AF_UNIX) in hardened: host sockets inside granted directories become connectable',
        );
      out(
        `quotas     ${
          Object.entries(entry.quotas)
            .map(([key, value]) => `${key}=${value}`)
            .join(', ') || 'defaults'
        }`,
      );
      // Preloaded into the home's pins when this version runs (--catalog NAME or npm:<package>@<version>).
      out(`tools (${entry.tools.length}, definitions pinned; preloaded when this version runs):`);
      for (const tool of entry.tools) out(`  ${tool.name}  sha256 ${tool.digest}`);
      const flags = runFlags(entry);
      out(`run        oacp mcp run --catalog ${entry.name}`);
      out(
        `  same as  oacp mcp run ${flags.map(quote).join(' ')}${flags.length === 0 ? '' : ' '}npm:${entry.package}@${entry.version}${entry.args.length === 0 ? '' : ` ${entry.args.map(quote).join(' ')}`}`,
      );
    });
}

function list(values: readonly string[]): string {
  return values.length === 0 ? 'none' : values.join(', ');
}

function quote(word: string): string {
  return /^[A-Za-z0-9_./:@=,*-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
