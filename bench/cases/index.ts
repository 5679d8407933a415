import type { BenchCase } from '../harness.js';
import { a2aCases } from './a2a.js';
import { airlockCases } from './airlock.js';
import { airlockResourceCases } from './airlock-resources.js';
import { clusterCases } from './cluster.js';
import { consoleCases } from './console.js';
import { gatewayCases } from './gateway.js';
import { logWriterCases } from './log-writers.js';
import { mcpCases } from './mcp.js';
import { mcpPackageCases } from './mcp-packages.js';
import { modelCases } from './models.js';
import { quotaCases } from './quotas.js';
import { trustCoreCases } from './trust-core.js';

/** Every benchmark case, in the order they run. */
export const cases: BenchCase[] = [
  ...trustCoreCases,
  ...logWriterCases,
  ...airlockCases,
  ...airlockResourceCases,
  ...mcpCases,
  ...mcpPackageCases,
  ...gatewayCases,
  ...modelCases,
  ...a2aCases,
  ...quotaCases,
  ...consoleCases,
  ...clusterCases,
];
