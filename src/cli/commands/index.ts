import type { CommandRegistrar } from '../program.js';

/** Every `oacp` subcommand, in help order. */
export const registrars: CommandRegistrar[] = [];
