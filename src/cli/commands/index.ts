import type { CommandRegistrar } from '../program.js';
import { registerA2a } from './a2a.js';
import { registerAgent } from './agent.js';
import { registerCluster } from './cluster.js';
import { registerConfig } from './config.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerGateway } from './gateway.js';
import { registerInit } from './init.js';
import { registerKeys } from './keys.js';
import { registerLog } from './log.js';
import { registerMcp } from './mcp.js';
import { registerPolicy } from './policy.js';
import { registerRun } from './run.js';
import { registerVerify } from './verify.js';

/** Every `oacp` subcommand, in help order. */
export const registrars: CommandRegistrar[] = [
  registerInit,
  registerAgent,
  registerKeys,
  registerMcp,
  registerRun,
  registerGateway,
  registerCluster,
  registerConfig,
  registerA2a,
  registerPolicy,
  registerVerify,
  registerLog,
  registerDoctor,
  registerDemo,
];
