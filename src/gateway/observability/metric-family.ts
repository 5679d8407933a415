/**
 * Prometheus metric families held per gateway instance (no process-wide
 * registry, so two gateways in one process, or two tests, never share counts).
 * Series are keyed by their label values in the family's declared order.
 */

export type Labels = Readonly<Record<string, string>>;

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** Sample lines in the text exposition format (without HELP/TYPE). */
  samples(): string[];
}

/** Beyond this many series a family stops adding new ones, so a label flood cannot exhaust memory. */
export const MAX_SERIES_PER_FAMILY = 10_000;

abstract class Family<S> implements MetricFamily {
  abstract readonly type: MetricType;
  protected readonly series = new Map<string, { labels: string[]; state: S }>();
  /** Series refused because the family was full; shown as a comment so the loss is visible. */
  dropped = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected slot(labels: Labels, fresh: () => S): S | undefined {
    const values = this.labelNames.map((name) => labels[name] ?? '');
    const key = values.join('\u0000');
    let entry = this.series.get(key);
    if (entry === undefined) {
      if (this.series.size >= MAX_SERIES_PER_FAMILY) {
        this.dropped += 1;
        return undefined;
      }
      entry = { labels: values, state: fresh() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  protected labelText(values: readonly string[], extra?: readonly [string, string]): string {
    const pairs = this.labelNames.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? '')}"`);
    if (extra !== undefined) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
  }

  abstract samples(): string[];
}

export class Counter extends Family<{ value: number }> {
  readonly type = 'counter' as const;

  inc(labels: Labels = {}, amount = 1): void {
    if (!(amount >= 0)) return; // counters only go up; a negative or NaN amount is a caller bug, not data
    const state = this.slot(labels, () => ({ value: 0 }));
    if (state !== undefined) state.value += amount;
  }

  get(labels: Labels = {}): number {
    const key = this.labelNames.map((name) => labels[name] ?? '').join('\u0000');
    return this.series.get(key)?.state.value ?? 0;
  }

  samples(): string[] {
    return [...this.series.values()].map(
      ({ labels, state }) => `${this.name}${this.labelText(labels)} ${formatNumber(state.value)}`,
    );
  }
}

export class Gauge extends Family<{ value: number }> {
  readonly type = 'gauge' as const;

  set(labels: Labels, value: number): void {
    const state = this.slot(labels, () => ({ value: 0 }));
    if (state !== undefined) state.value = value;
  }

  add(labels: Labels, delta: number): void {
    const state = this.slot(labels, () => ({ value: 0 }));
    if (state !== undefined) state.value += delta;
  }

  get(labels: Labels = {}): number {
    const key = this.labelNames.map((name) => labels[name] ?? '').join('\u0000');
    return this.series.get(key)?.state.value ?? 0;
  }

  samples(): string[] {
    return [...this.series.values()].map(
      ({ labels, state }) => `${this.name}${this.labelText(labels)} ${formatNumber(state.value)}`,
    );
  }
}

interface HistogramState {
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Latency buckets in seconds: 0.5 ms to 10 s. */
export const DEFAULT_SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export class Histogram extends Family<HistogramState> {
  readonly type = 'histogram' as const;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS,
  ) {
    super(name, help, labelNames);
  }

  observe(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    const state = this.slot(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    if (state === undefined) return;
    // Counts are stored per bucket and made cumulative when rendered.
    const at = this.buckets.findIndex((bound) => value <= bound);
    if (at !== -1) state.counts[at] = (state.counts[at] ?? 0) + 1;
    state.sum += value;
    state.count += 1;
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const { labels, state } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += state.counts[i] ?? 0;
        lines.push(`${this.name}_bucket${this.labelText(labels, ['le', formatNumber(bound)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${this.labelText(labels, ['le', '+Inf'])} ${state.count}`);
      lines.push(`${this.name}_sum${this.labelText(labels)} ${formatNumber(state.sum)}`);
      lines.push(`${this.name}_count${this.labelText(labels)} ${state.count}`);
    }
    return lines;
  }
}

/** Label values escape backslash, double quote and line feed (text format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed only. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
