#!/usr/bin/env node
import { registrarsFor } from './commands/table.js';
import { processOutput } from './io.js';
import { buildProgram, createContext, runProgram } from './program.js';

const argv = process.argv.slice(2);
const output = processOutput();
const context = createContext(output, process.env);
const program = buildProgram(context, await registrarsFor(argv));
process.exitCode = await runProgram(program, argv, context.output);
