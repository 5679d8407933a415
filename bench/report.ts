import type { Figure } from './harness.js';

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export function markdownTable(figures: readonly Figure[], meta: Record<string, string>): string {
  const lines = [
    '# OACP benchmark results',
    '',
    ...Object.entries(meta).map(([key, value]) => `- ${key}: ${value}`),
    '',
    '| case | metric | OACP | baseline | baseline value | ratio | goal | met |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...figures.map((f) =>
      [
        f.case,
        f.metric,
        `${fmt(f.subject)} ${f.unit}`,
        f.baselineName,
        `${fmt(f.baseline)} ${f.unit}`,
        `${fmt(f.ratio)}x`,
        f.goal ? `${f.goal.op} ${fmt(f.goal.value)} ${f.unit}` : '',
        f.goal ? (f.goal.met ? 'yes' : 'NO') : '',
      ]
        .join(' | ')
        .replace(/^/, '| ')
        .replace(/$/, ' |'),
    ),
    '',
    ...figures.filter((f) => f.note).map((f) => `- ${f.case} / ${f.metric}: ${f.note}`),
    '',
  ];
  return lines.join('\n');
}
