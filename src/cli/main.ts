#!/usr/bin/env node
import { runCli } from './cli.js';
import { registrarsFor } from './commands/table.js';
import { processOutput } from './io.js';

const argv = process.argv.slice(2);
process.exitCode = await runCli(argv, await registrarsFor(argv), processOutput(), process.env);
