import { Counter, escapeHelp, Gauge, Histogram, type MetricFamily } from './metric-family.js';

/** The content type Prometheus expects for the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A set of metric families rendered together; one per gateway. */
export class MetricRegistry {
  private readonly families = new Map<string, MetricFamily>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets?: readonly number[],
  ): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** The text exposition format: HELP and TYPE per family, then its samples. */
  render(): string {
    const lines: string[] = [];
    for (const family of this.families.values()) {
      lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
      lines.push(`# TYPE ${family.name} ${family.type}`);
      lines.push(...family.samples());
    }
    return `${lines.join('\n')}\n`;
  }

  private add<F extends MetricFamily>(family: F): F {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(family.name))
      throw new RangeError(`bad metric name ${family.name}`);
    if (this.families.has(family.name)) throw new RangeError(`metric ${family.name} is defined twice`);
    this.families.set(family.name, family);
    return family;
  }
}
