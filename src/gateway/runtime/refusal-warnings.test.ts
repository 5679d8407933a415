import { describe, expect, it } from 'vitest';
import type { A2aSecurityEvent } from '../../a2a/agent.js';
import { manualClock } from '../../airlock/quota/clock.js';
import { Logger } from '../observability/logger.js';
import { refusalWarnings } from './refusal-warnings.js';

const unsigned = (source: string): A2aSecurityEvent => ({
  type: 'signature_required',
  agent: 'alice',
  reason: 'an OACP signature is required',
  unauthenticated: { source },
});

function collect() {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger((line) => lines.push(JSON.parse(line) as Record<string, unknown>), 'warn');
  return { lines, logger };
}

describe('refusal warnings in the operator log', () => {
  it('attack: 1,000 unauthenticated refusals from one address: bounded lines, then one summary with the count; every one counted', async () => {
    const { lines, logger } = collect();
    const clock = manualClock(1_000_000);
    let counted = 0;
    const warnings = refusalWarnings(
      logger,
      { perSourcePerMinute: 5, overallPerMinute: 50 },
      () => {
        counted += 1;
      },
      clock.now,
    );
    for (let i = 0; i < 1_000; i++) warnings.onEvent(unsigned('203.0.113.7'));
    expect(counted).toBe(1_000);
    const refused = lines.filter((line) => line.msg === 'a2a request refused');
    expect(refused).toHaveLength(5);
    expect(refused[0]).toMatchObject({ type: 'signature_required', agent: 'alice', source: '203.0.113.7' });
    await warnings.flush();
    const summary = lines.filter((line) => line.msg === 'a2a refusals not logged');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({
      agent: 'alice',
      count: 995,
      sources: 1,
      top: [{ source: '203.0.113.7', count: 995 }],
    });
    expect(lines).toHaveLength(6);
  });

  it('bounds a flood spread over many addresses by the overall limit', async () => {
    const { lines, logger } = collect();
    const clock = manualClock(1_000_000);
    const warnings = refusalWarnings(
      logger,
      { perSourcePerMinute: 5, overallPerMinute: 50 },
      () => undefined,
      clock.now,
    );
    for (let i = 0; i < 1_000; i++) warnings.onEvent(unsigned(`198.51.100.${i % 250}`));
    await warnings.flush();
    expect(lines.filter((line) => line.msg === 'a2a request refused')).toHaveLength(50);
    expect(lines.filter((line) => line.msg === 'a2a refusals not logged')).toMatchObject([
      { count: 950, sources: 250 },
    ]);
  });

  it('logs every refusal of an authenticated caller, and sums up again after each window', async () => {
    const { lines, logger } = collect();
    const clock = manualClock(1_000_000);
    const warnings = refusalWarnings(
      logger,
      { perSourcePerMinute: 1, overallPerMinute: 50 },
      () => undefined,
      clock.now,
    );
    for (let i = 0; i < 20; i++)
      warnings.onEvent({
        type: 'trust_denied',
        agent: 'alice',
        reason: 'not trusted',
        sender: 'did:key:z6Mk',
      });
    expect(lines).toHaveLength(20);
    warnings.onEvent(unsigned('203.0.113.7'));
    warnings.onEvent(unsigned('203.0.113.7'));
    clock.advance(61_000);
    // The first refusal after the window logs the last window's count.
    warnings.onEvent(unsigned('203.0.113.7'));
    const summaries = lines.filter((line) => line.msg === 'a2a refusals not logged');
    expect(summaries).toMatchObject([{ count: 1 }]);
    expect(lines.filter((line) => line.msg === 'a2a request refused')).toHaveLength(22);
  });
});
