import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { cases } from './cases/index.js';
import type { Figure } from './harness.js';
import { markdownTable } from './report.js';

/**
 * `npm run bench [-- CASE...]`: runs every case (or those named), each figure
 * beside its baseline in the same process, and writes bench/results.json and
 * bench/results.md.
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
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
  };
  const dir = import.meta.dirname;
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ meta, figures }, null, 2)}\n`);
  const table = markdownTable(figures, meta);
  writeFileSync(join(dir, 'results.md'), table);
  process.stdout.write(table);
}

await main();
