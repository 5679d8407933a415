#!/usr/bin/env node
import { registrars } from './commands/index.js';
import { processOutput } from './io.js';
import { buildProgram, createContext, runProgram } from './program.js';

const output = processOutput();
const context = createContext(output, process.env);
const program = buildProgram(context, registrars);
process.exitCode = await runProgram(program, process.argv.slice(2), output);
