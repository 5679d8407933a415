import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from './gateway-metrics.js';
import { MAX_SERIES_PER_FAMILY } from './metric-family.js';
import { MetricRegistry } from './registry.js';

describe('Prometheus text exposition', () => {
  it('writes HELP, TYPE and one sample per label set', () => {
    const registry = new MetricRegistry();
    const calls = registry.counter('oacp_tool_calls_total', 'Tool calls', ['tool', 'agent', 'status']);
    calls.inc({ tool: 'echo', agent: 'a1', status: 'ok' });
    calls.inc({ tool: 'echo', agent: 'a1', status: 'ok' }, 2);
    calls.inc({ tool: 'echo', agent: 'a2', status: 'denied' });
    expect(registry.render()).toBe(
      [
        '# HELP oacp_tool_calls_total Tool calls',
        '# TYPE oacp_tool_calls_total counter',
        'oacp_tool_calls_total{tool="echo",agent="a1",status="ok"} 3',
        'oacp_tool_calls_total{tool="echo",agent="a2",status="denied"} 1',
        '',
      ].join('\n'),
    );
  });

  it('escapes label values and help text so a hostile name cannot forge a sample line', () => {
    const registry = new MetricRegistry();
    const c = registry.counter('x_total', 'line one\nline \\two', ['agent']);
    c.inc({ agent: 'evil"} 1e9\nx_total{agent="b' });
    const text = registry.render();
    expect(text).toContain('# HELP x_total line one\\nline \\\\two');
    expect(text).toContain('x_total{agent="evil\\"} 1e9\\nx_total{agent=\\"b"} 1');
    expect(text.split('\n').filter((line) => line.startsWith('x_total'))).toHaveLength(1);
  });

  it('renders histograms with cumulative buckets, +Inf, sum and count', () => {
    const registry = new MetricRegistry();
    const h = registry.histogram('lat_seconds', 'latency', ['route'], [0.1, 1]);
    h.observe({ route: '/a' }, 0.05);
    h.observe({ route: '/a' }, 0.5);
    h.observe({ route: '/a' }, 5);
    expect(registry.render()).toContain(
      [
        'lat_seconds_bucket{route="/a",le="0.1"} 1',
        'lat_seconds_bucket{route="/a",le="1"} 2',
        'lat_seconds_bucket{route="/a",le="+Inf"} 3',
        'lat_seconds_sum{route="/a"} 5.55',
        'lat_seconds_count{route="/a"} 3',
      ].join('\n'),
    );
  });

  it('refuses a duplicate or malformed metric name and ignores negative counter increments', () => {
    const registry = new MetricRegistry();
    const c = registry.counter('a_total', 'a');
    expect(() => registry.counter('a_total', 'again')).toThrow(/twice/);
    expect(() => registry.gauge('bad name', 'x')).toThrow(/bad metric name/);
    c.inc({}, -5);
    c.inc({}, Number.NaN);
    expect(c.get()).toBe(0);
  });

  it('stops adding series past the cap instead of growing without bound', () => {
    const registry = new MetricRegistry();
    const c = registry.counter('many_total', 'many', ['agent']);
    for (let i = 0; i < MAX_SERIES_PER_FAMILY + 5; i++) c.inc({ agent: `a${i}` });
    expect(c.dropped).toBe(5);
    expect(c.get({ agent: `a${MAX_SERIES_PER_FAMILY + 1}` })).toBe(0);
  });

  it('keeps every gateway its own counts (no process-wide registry)', () => {
    const one = new GatewayMetrics('node-1');
    const two = new GatewayMetrics('node-2');
    one.toolCalls.inc({ tool: 't', agent: 'a', status: 'ok' });
    expect(two.toolCalls.get({ tool: 't', agent: 'a', status: 'ok' })).toBe(0);
    const text = one.render();
    for (const name of [
      'oacp_agents_running',
      'oacp_tool_calls_total',
      'oacp_quota_consumed',
      'oacp_attestations_generated',
      'oacp_security_events_total',
      'oacp_context_operations_total',
      'oacp_http_request_duration_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('oacp_agents_running{node="node-1"} 0');
  });
});
