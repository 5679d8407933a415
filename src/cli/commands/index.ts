import type { CommandRegistrar } from '../program.js';
import { commandTable } from './table.js';

/** Every `oacp` subcommand, in help order (the binary loads only the one it runs: see table.ts). */
export const registrars: CommandRegistrar[] = await Promise.all(commandTable.map((entry) => entry.load()));
