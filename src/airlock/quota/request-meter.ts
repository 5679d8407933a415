import type { Quotas } from '../../capability/manifest.js';
import { allow, type Decision, deny } from '../../core/decision.js';
import type { Clock } from './clock.js';
import { QuotaExceededError } from './errors.js';

/** Quotas that reset with every request. */
export type RequestQuota = 'cpu_ms_per_request' | 'max_output_bytes' | 'llm_tokens_per_request';

const UNITS: Readonly<Record<RequestQuota, string>> = {
  cpu_ms_per_request: 'ms of CPU per request',
  max_output_bytes: 'bytes of output per request',
  llm_tokens_per_request: 'LLM tokens per request',
};

export interface RequestUsage {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly outputBytes: number;
  readonly llmTokens: number;
  readonly memoryPeakBytes: number;
  /** The first quota this request broke, if any: the reason it was stopped. */
  readonly exceeded?: string;
}

/**
 * Per-request accounting: CPU, output, LLM tokens, memory. The first time a
 * quota is broken the request is over: `exceeded()` keeps answering with that
 * refusal, and every later check is refused too (a hard cutoff, so a workload
 * cannot keep going by catching the error).
 */
export class RequestMeter {
  private readonly used: Record<RequestQuota, number> = {
    cpu_ms_per_request: 0,
    max_output_bytes: 0,
    llm_tokens_per_request: 0,
  };
  private memoryPeak = 0;
  private broken: Decision | undefined;
  private readonly startedAt: number;

  constructor(
    readonly quotas: Quotas,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock();
  }

  limit(name: RequestQuota): number {
    return this.quotas[name];
  }

  remaining(name: RequestQuota): number {
    return Math.max(0, this.limit(name) - this.used[name]);
  }

  /** Pre-flight: would `amount` more fit? Records nothing. */
  check(name: RequestQuota, amount: number): Decision {
    if (this.broken !== undefined) return this.broken;
    return this.used[name] + amount > this.limit(name)
      ? this.refusal(name)
      : allow(`within quota ${name}: limit ${this.limit(name)} ${UNITS[name]}`, `quota.${name}`);
  }

  /** Records `amount` as spent (CPU already burnt, output already produced) and says if that broke the quota. */
  charge(name: RequestQuota, amount: number): Decision {
    this.used[name] += amount;
    if (this.broken !== undefined) return this.broken;
    if (this.used[name] > this.limit(name)) {
      this.broken = this.refusal(name);
      return this.broken;
    }
    return allow(`within quota ${name}: limit ${this.limit(name)} ${UNITS[name]}`, `quota.${name}`);
  }

  chargeOrThrow(name: RequestQuota, amount: number): void {
    const decision = this.charge(name, amount);
    if (decision.effect === 'deny') throw new QuotaExceededError(name, this.limit(name), decision.reason);
  }

  /** Records the current memory footprint; above `memory_mb` is a refusal. */
  observeMemory(bytes: number): Decision {
    this.memoryPeak = Math.max(this.memoryPeak, bytes);
    if (this.broken !== undefined) return this.broken;
    const limitMb = this.quotas.memory_mb;
    if (bytes > limitMb * 1024 * 1024) {
      this.broken = deny(`quota memory_mb exceeded: limit ${limitMb} MB`, 'quota.memory_mb');
      return this.broken;
    }
    return allow(`within quota memory_mb: limit ${limitMb} MB`, 'quota.memory_mb');
  }

  /** Ends the request from outside (a kill), keeping the first reason if one exists. */
  breakWith(decision: Decision): void {
    this.broken ??= decision;
  }

  exceeded(): Decision | undefined {
    return this.broken;
  }

  usage(): RequestUsage {
    const base = {
      wallMs: this.clock() - this.startedAt,
      cpuMs: this.used.cpu_ms_per_request,
      outputBytes: this.used.max_output_bytes,
      llmTokens: this.used.llm_tokens_per_request,
      memoryPeakBytes: this.memoryPeak,
    };
    return this.broken === undefined ? base : { ...base, exceeded: this.broken.reason };
  }

  private refusal(name: RequestQuota): Decision {
    return deny(`quota ${name} exceeded: limit ${this.limit(name)} ${UNITS[name]}`, `quota.${name}`);
  }
}
