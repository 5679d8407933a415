import type { BenchCase } from '../harness.js';

/** Every benchmark case, in the order they run. */
export const cases: BenchCase[] = [];
