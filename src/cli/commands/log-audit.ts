import type { Command } from 'commander';
import { describeError } from '../../core/errors.js';
import { oneLine } from '../../core/terminal-text.js';
import { type AuditEntry, decodeAuditEntry, listAudit } from '../../node/audit-view.js';
import type { OacpNode } from '../../node/oacp-node.js';
import { CliExit } from '../io.js';
import type { CliContext } from '../program.js';
import { parseIndex } from './shared.js';

type WithNode = <T>(context: CliContext, command: Command, run: (node: OacpNode) => Promise<T>) => Promise<T>;

/** `oacp log list` and `oacp log show`: what happened, read from the log (read-only, no lock). */
export function registerLogAudit(log: Command, context: CliContext, withReader: WithNode): void {
  log
    .command('list')
    .description(
      'list receipts, newest first: time, caller, server, tool, decision, tier, duration, verification',
    )
    .option('--since <when>', 'only entries from this ISO time or this long ago (30s, 15m, 2h, 7d)')
    .option('--tool <name>', 'only calls of this tool')
    .option('--agent <id>', 'only calls by this caller (did:key or client id, as in the receipt)')
    .option('--decision <effect>', 'only allow or deny')
    .option('--limit <n>', 'at most this many entries (1-1000)', '50')
    .option('--before <index>', 'start below this log index (the "next" of the previous page)')
    .option('--json', 'machine output: {"entries": [...], "next"?, "logSize"}')
    .action(async (options: Record<string, string | boolean | undefined>, command: Command) => {
      const { json, ...filter } = options;
      await withReader(context, command, async (node) => {
        let page: Awaited<ReturnType<typeof listAudit>>;
        try {
          page = await listAudit(node.log, filter, [node.keys.publicKeys().airlock.raw]);
        } catch (error) {
          throw new CliExit(describeError(error).replace(/^AUDIT_FILTER_INVALID: /, '--'), 2);
        }
        if (json === true) return context.output.out(JSON.stringify(page));
        if (page.entries.length === 0)
          return context.output.out(`no matching entries (log size ${page.logSize})`);
        context.output.out(table(page.entries));
        if (page.next !== undefined) context.output.out(`more: --before ${page.next}`);
      });
    });

  log
    .command('show')
    .description('show one log entry decoded, with its verification result')
    .argument('<index>', 'log index')
    .option('--json', 'machine output')
    .action(async (indexText: string, options: { json?: boolean }, command: Command) => {
      const index = parseIndex(indexText, 'index');
      await withReader(context, command, async (node) => {
        if (index >= node.log.size)
          throw new CliExit(`index ${index} is beyond the log size ${node.log.size}`);
        const entry = decodeAuditEntry(index, await node.log.entry(index), [
          node.keys.publicKeys().airlock.raw,
        ]);
        if (options.json === true) return context.output.out(JSON.stringify(entry));
        const rows: Array<[string, unknown]> = [
          ['index', entry.index],
          ['kind', entry.kind],
          ['time', entry.time],
          ['caller', entry.caller],
          ['server', entry.server],
          ['tool', entry.tool],
          ['decision', entry.decision],
          ['reason', entry.reason],
          ['policy', entry.policyId],
          ['tier', entry.tier],
          ['duration', entry.durationMs === undefined ? undefined : `${milliseconds(entry.durationMs)} ms`],
          ['verification', entry.verification],
        ];
        for (const [name, value] of rows)
          if (value !== undefined) context.output.out(`${name.padEnd(13)}${oneLine(String(value))}`);
      });
    });
}

/** A receipt's duration as people read it (`196.71`, not `196.70596100000006`); --json keeps the number. */
function milliseconds(ms: number): string {
  return Number.isFinite(ms) ? String(Math.round(ms * 100) / 100) : String(ms);
}

function table(entries: readonly AuditEntry[]): string {
  const head = ['INDEX', 'TIME', 'CALLER', 'SERVER', 'TOOL', 'DECISION', 'TIER', 'MS', 'VERIFIED'];
  const rows = entries.map((e) =>
    [
      String(e.index),
      e.time ?? '-',
      short(e.caller ?? '-'),
      e.server ?? '-',
      e.tool ?? (e.kind === 'execution' ? '(run)' : '-'),
      e.decision === undefined ? '-' : `${e.decision}: ${e.reason ?? ''}`,
      e.tier ?? '-',
      e.durationMs === undefined ? '-' : milliseconds(e.durationMs),
      e.verified ? 'ok' : e.verification,
    ].map((cell) => oneLine(cell, 60)),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  return [head, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function short(caller: string): string {
  return caller.startsWith('did:key:') && caller.length > 24
    ? `${caller.slice(0, 16)}…${caller.slice(-6)}`
    : caller;
}
