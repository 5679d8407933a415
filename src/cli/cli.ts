import type { Output } from './io.js';
import type { CommandRegistrar } from './program.js';
import { buildProgram, createContext, runProgram } from './program.js';

/** Runs `oacp ARGV` with these commands registered, writing to `output`; returns the exit code. */
export async function runCli(
  argv: readonly string[],
  registrars: readonly CommandRegistrar[],
  output: Output,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const context = createContext(output, env);
  return runProgram(buildProgram(context, registrars), argv, context.output);
}
