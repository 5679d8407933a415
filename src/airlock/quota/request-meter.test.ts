import { describe, expect, it } from 'vitest';
import { QuotasSchema } from '../../capability/manifest.js';
import { allow } from '../../core/decision.js';
import { manualClock } from './clock.js';
import { QuotaExceededError } from './errors.js';
import { QuotaLedger } from './ledger.js';

function meter(quotas: Record<string, number> = {}) {
  const clock = manualClock();
  return { clock, meter: new QuotaLedger(QuotasSchema.parse(quotas), clock.now).startRequest() };
}

describe('RequestMeter', () => {
  it('cuts CPU off at cpu_ms_per_request and stays cut off', () => {
    const { meter: m } = meter({ cpu_ms_per_request: 100 });
    expect(m.charge('cpu_ms_per_request', 60).effect).toBe('allow');
    expect(m.remaining('cpu_ms_per_request')).toBe(40);
    const refusal = m.charge('cpu_ms_per_request', 41);
    expect(refusal).toEqual({
      effect: 'deny',
      reason: 'quota cpu_ms_per_request exceeded: limit 100 ms of CPU per request',
      policyId: 'quota.cpu_ms_per_request',
    });
    expect(m.check('max_output_bytes', 1)).toEqual(refusal);
    expect(m.exceeded()).toEqual(refusal);
  });

  it('refuses output beyond max_output_bytes before it is produced', () => {
    const { meter: m } = meter({ max_output_bytes: 10 });
    expect(m.check('max_output_bytes', 10).effect).toBe('allow');
    expect(m.check('max_output_bytes', 11).reason).toBe(
      'quota max_output_bytes exceeded: limit 10 bytes of output per request',
    );
    expect(m.exceeded()).toBeUndefined();
  });

  it('refuses LLM tokens beyond llm_tokens_per_request and throws a typed error on request', () => {
    const { meter: m } = meter({ llm_tokens_per_request: 1000 });
    m.chargeOrThrow('llm_tokens_per_request', 900);
    expect(() => m.chargeOrThrow('llm_tokens_per_request', 101)).toThrow(QuotaExceededError);
    expect(m.usage().exceeded).toBe(
      'quota llm_tokens_per_request exceeded: limit 1000 LLM tokens per request',
    );
  });

  it('refuses memory above memory_mb and remembers the peak', () => {
    const { meter: m } = meter({ memory_mb: 1 });
    expect(m.observeMemory(512 * 1024).effect).toBe('allow');
    expect(m.observeMemory(2 * 1024 * 1024).reason).toBe('quota memory_mb exceeded: limit 1 MB');
    expect(m.usage().memoryPeakBytes).toBe(2 * 1024 * 1024);
  });

  it('keeps the first reason when broken from outside', () => {
    const { meter: m } = meter();
    m.breakWith({ effect: 'deny', reason: 'stopped by operator' });
    m.breakWith(allow('later'));
    expect(m.exceeded()?.reason).toBe('stopped by operator');
    expect(m.check('cpu_ms_per_request', 0).effect).toBe('deny');
  });

  it('reports wall time from the injected clock', () => {
    const { clock, meter: m } = meter();
    clock.advance(250);
    m.charge('cpu_ms_per_request', 30);
    expect(m.usage()).toEqual({ wallMs: 250, cpuMs: 30, outputBytes: 0, llmTokens: 0, memoryPeakBytes: 0 });
  });
});
