import type { CommandRegistrar } from '../program.js';
import { registerAgent } from './agent.js';
import { registerInit } from './init.js';
import { registerKeys } from './keys.js';

/** Every `oacp` subcommand, in help order. */
export const registrars: CommandRegistrar[] = [registerInit, registerAgent, registerKeys];
