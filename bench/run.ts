import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { cases } from './cases/index.js';
import type { Figure } from './harness.js';
import { markdownTable } from './report.js';

/**
 * `npm run bench [-- CASE...]`: runs every case (or those named), each figure
 * beside its baseline in the same process, and writes bench/results.json and
 * bench/results.md. A run of some cases replaces only their figures: the
 * others stay as they were, and the hand-written sections of results.md (from
 * its first `## ` heading on) are kept.
 */
async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const selected = wanted.length === 0 ? cases : cases.filter((c) => wanted.includes(c.id));
  if (selected.length === 0) {
    process.stderr.write(
      `bench: no case named ${wanted.join(', ')}; known: ${cases.map((c) => c.id).join(', ')}\n`,
    );
    process.exitCode = 2;
    return;
  }
  const figures: Figure[] = [];
  for (const benchCase of selected) {
    process.stderr.write(`bench: ${benchCase.id}: ${benchCase.title}\n`);
    try {
      figures.push(...(await benchCase.run((line) => process.stderr.write(`bench:   ${line}\n`))));
    } catch (error) {
      process.stderr.write(`bench:   failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  }
  const dir = import.meta.dirname;
  const ran = new Set(selected.map((c) => c.id));
  const previous = wanted.length === 0 ? undefined : readPrevious(join(dir, 'results.json'));
  const now = new Date().toISOString();
  const meta = {
    date: previous === undefined ? now : `${previous.date} (${[...ran].join(', ')}: ${now})`,
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
  };
  const kept = previous?.figures.filter((figure) => !ran.has(figure.case)) ?? [];
  const all = [...kept, ...figures];
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ meta, figures: all }, null, 2)}\n`);
  const table = markdownTable(all, meta);
  writeFileSync(join(dir, 'results.md'), `${table}${handWritten(join(dir, 'results.md'))}`);
  process.stdout.write(markdownTable(figures, meta));
}

/** The figures and date of the last results, when there are readable ones. */
function readPrevious(path: string): { date: string; figures: Figure[] } | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { meta?: { date?: unknown }; figures?: unknown };
    if (!Array.isArray(parsed.figures)) return undefined;
    return { date: String(parsed.meta?.date ?? 'unknown'), figures: parsed.figures as Figure[] };
  } catch {
    return undefined;
  }
}

/** The sections written by hand below the generated table (from the first `## ` heading on). */
function handWritten(path: string): string {
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  const at = text.search(/^## /m);
  return at < 0 ? '' : `\n${text.slice(at)}`;
}

await main();
