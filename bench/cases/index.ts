import type { BenchCase } from '../harness.js';
import { a2aCases } from './a2a.js';
import { airlockCases } from './airlock.js';
import { airlockResourceCases } from './airlock-resources.js';
import { gatewayCases } from './gateway.js';
import { mcpCases } from './mcp.js';
import { quotaCases } from './quotas.js';
import { trustCoreCases } from './trust-core.js';

/** Every benchmark case, in the order they run. */
export const cases: BenchCase[] = [
  ...trustCoreCases,
  ...airlockCases,
  ...airlockResourceCases,
  ...mcpCases,
  ...gatewayCases,
  ...a2aCases,
  ...quotaCases,
];
