import type { BenchCase } from '../harness.js';
import { airlockCases } from './airlock.js';
import { trustCoreCases } from './trust-core.js';

/** Every benchmark case, in the order they run. */
export const cases: BenchCase[] = [...trustCoreCases, ...airlockCases];
