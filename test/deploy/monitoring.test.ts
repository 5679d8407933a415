import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { GatewayMetrics } from '../../src/gateway/observability/gateway-metrics.js';

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
const RULES = join(DEPLOY, 'prometheus', 'oacp-alerts.yml');
const RULE_TESTS = join(DEPLOY, 'prometheus', 'oacp-alerts.test.yml');
const DASHBOARD = join(DEPLOY, 'grafana', 'oacp-dashboard.json');
const PROMTOOL = '/usr/bin/promtool';

const Dashboard = z.object({
  title: z.string(),
  uid: z.string(),
  panels: z.array(
    z.object({
      id: z.number(),
      title: z.string().min(1),
      type: z.string(),
      gridPos: z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }),
      targets: z.array(z.object({ refId: z.string(), expr: z.string().min(1) })).min(1),
    }),
  ),
});

const RuleFile = z.object({
  groups: z.array(
    z.object({ name: z.string(), rules: z.array(z.object({ expr: z.string() }).passthrough()) }),
  ),
});

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8' });
  if (result.error) throw new Error(`promtool not runnable at ${PROMTOOL} (apt-get install prometheus)`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** oacp_* names an expression reads, with histogram suffixes folded onto their family. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\boacp_[a-z_]+\b/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

function exportedFamilies(): Set<string> {
  const metrics = new GatewayMetrics('test-node');
  metrics.toolCalls.inc({ tool: 't', agent: 'a', status: 'ok' });
  metrics.toolCallDuration.observe({ tool: 't' }, 0.01);
  const families = [...metrics.render().matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
  return new Set(families);
}

describe('deploy/prometheus alerting rules', () => {
  it('pass promtool check rules', () => {
    const { status, output } = promtool(['check', 'rules', RULES], DEPLOY);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('fire as their promtool unit tests expect (security event, denied rate, quota, missing receipts)', () => {
    const { status, output } = promtool(['test', 'rules', RULE_TESTS], join(DEPLOY, 'prometheus'));
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('refuse a broken rule file (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-rules-'));
    try {
      const broken = join(dir, 'broken.yml');
      writeFileSync(
        broken,
        'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(oacp_tool_calls_total[5m])\n',
      );
      expect(promtool(['check', 'rules', broken], dir).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('read only metrics the gateway exports', () => {
    const rules = RuleFile.parse(parse(readFileSync(RULES, 'utf8')));
    const exported = exportedFamilies();
    const used = rules.groups.flatMap((group) => group.rules.flatMap((rule) => metricNames(rule.expr)));
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });
});

describe('deploy/grafana dashboard', () => {
  const dashboard = Dashboard.parse(JSON.parse(readFileSync(DASHBOARD, 'utf8')));

  it('has unique panel ids and reads only metrics the gateway exports', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const exported = exportedFamilies();
    const used = dashboard.panels.flatMap((panel) => panel.targets.flatMap((t) => metricNames(t.expr)));
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });

  it('has expressions that parse as PromQL (checked by promtool as recording rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-dash-'));
    try {
      const rules = dashboard.panels.flatMap((panel) =>
        panel.targets.map((target, index) => ({
          record: `oacp:panel_${panel.id}_${index}`,
          expr: target.expr,
        })),
      );
      const file = join(dir, 'panels.yml');
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'panels', rules }] }));
      const { status, output } = promtool(['check', 'rules', file], dir);
      expect(output).toContain(`${rules.length} rules found`);
      expect(status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
