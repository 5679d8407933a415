import { describe, expect, it } from 'vitest';
import { manualClock } from '../../src/airlock/quota/clock.js';
import { clientRefusalLog } from '../../src/mcp/client-refusal-log.js';
import type { BridgeEvent } from '../../src/mcp/session-types.js';

const INVALID: BridgeEvent = { type: 'invalid-message', from: 'client', reason: 'not JSON-RPC' };
const LIMITS = { perSourcePerMinute: 3, overallPerMinute: 5 };

describe('clientRefusalLog', () => {
  it('attack: one session past its limit gets no more lines; its count is logged once the window ends', () => {
    const lines: string[] = [];
    const clock = manualClock();
    const log = clientRefusalLog((line) => lines.push(line), LIMITS, clock.now);
    const admitted = Array.from({ length: 50 }, () => log.admit('memory', INVALID, 'session 1'));
    expect(admitted.filter(Boolean)).toHaveLength(3);
    expect(lines).toEqual([]);
    clock.advance(60_000);
    // The next event of any session ends the window: one summary line, with the count.
    expect(log.admit('memory', INVALID, 'session 1')).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^oacp: memory: 47 more refused client messages not logged from .* \(1 session; most: session 1: 47;/,
    );
  });

  it('attack: many sessions share the overall limit; the summary at close names the busiest', async () => {
    const lines: string[] = [];
    const log = clientRefusalLog((line) => lines.push(line), LIMITS, manualClock().now);
    let admitted = 0;
    for (let i = 0; i < 100; i++) if (log.admit('memory', INVALID, `session ${i % 10}`)) admitted++;
    expect(admitted).toBe(5);
    await log.flush();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(': 95 more refused client messages not logged');
    expect(lines[0]).toContain('(10 sessions; most: ');
  });

  it('attack: 1,000 requests without the client token: a line each within the limits, the rest summed, every one counted at close', async () => {
    const lines: string[] = [];
    const log = clientRefusalLog((line) => lines.push(line), LIMITS, manualClock().now);
    for (let i = 0; i < 1_000; i++)
      log.unauthenticated(i % 2 === 0 ? '127.0.0.1' : '::1', 'no Authorization header');
    const each = lines.filter((line) => line.includes('(401; the client token is needed'));
    expect(each).toHaveLength(5);
    expect(each[0]).toBe(
      'oacp: refused a request from 127.0.0.1: no Authorization header (401; the client token is needed, nothing read)',
    );
    await log.flush();
    expect(lines).toHaveLength(7);
    expect(lines[5]).toMatch(
      /^oacp: 995 more requests without the client token \(401\) not logged .*\(2 addresses; most: /,
    );
    expect(lines[6]).toBe(
      'oacp: 1000 requests refused for want of the client token while the bridge ran (401, nothing of them read, no receipt)',
    );
  });

  it("always logs the server's own events and a receipt not written, whatever a client sent", () => {
    const lines: string[] = [];
    const log = clientRefusalLog((line) => lines.push(line), LIMITS, manualClock().now);
    for (let i = 0; i < 20; i++) log.admit('memory', INVALID, 'session 1');
    expect(log.admit('memory', { type: 'invalid-message', from: 'server', reason: 'x' }, 'session 1')).toBe(
      true,
    );
    expect(log.admit('memory', { type: 'receipt-failed', callId: 'c', reason: 'disk' }, 'session 1')).toBe(
      true,
    );
    expect(log.admit('memory', { type: 'send-failed', to: 'client', reason: 'gone' }, 'session 1')).toBe(
      false,
    );
  });
});
