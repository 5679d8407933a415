import { Command, CommanderError } from 'commander';
import { OacpError } from '../core/errors.js';
import { SecretValues } from '../core/secret-values.js';
import { MASTER_KEY_ENV, masterKeyTexts, parseMasterKeyEnv } from '../identity/master-key.js';
import { packageVersion } from './commands/version.js';
import { checkedHome } from './home.js';
import { CliExit, failureLine, type Output } from './io.js';

/** What every command gets: where to write, and how to find the OACP home. */
export interface CliContext {
  /** Every line masked by `secrets`. */
  readonly output: Output;
  /** This process's live secret values (OACP_MASTER_KEY's forms; what `mcp run` hands its servers). */
  readonly secrets: SecretValues;
  readonly env: NodeJS.ProcessEnv;
  home(command: Command): string;
}

export type CommandRegistrar = (program: Command, context: CliContext) => void;

export function buildProgram(context: CliContext, registrars: readonly CommandRegistrar[]): Command {
  const program = new Command('oacp')
    .description('Operational Agent Control Protocol: isolated agents and tools with verifiable receipts')
    .option('--home <dir>', 'OACP home directory (default: $OACP_HOME or ~/.oacp)')
    .option('-V, --version', 'print the version of oacp and exit')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.output.out(text.trimEnd()),
      writeErr: (text) => context.output.err(text.trimEnd()),
      // A mistake is one line naming it (and the nearest flag or command), not the whole help.
      outputError: (text) => context.output.err(oneLineError(text)),
    });
  // Like commander's .version(), but the version is read only when asked for.
  program.on('option:version', () => {
    context.output.out(packageVersion());
    throw new CommanderError(0, 'commander.version', packageVersion());
  });
  for (const register of registrars) register(program, context);
  return program;
}

/** `error: unknown option '--x'\n(Did you mean --y?)` -> `oacp: unknown option '--x' (did you mean --y?)`. */
export function oneLineError(text: string): string {
  const [first = '', ...rest] = text.trim().split('\n');
  const suggestion = rest.join(' ').replace(/^\(Did you mean (.*)\?\)$/, '(did you mean $1?)');
  return `oacp: ${first.replace(/^error: /, '')}${suggestion === '' ? '' : ` ${suggestion}`}`;
}

/**
 * The commands' context: `output` wrapped so that no line, a failure's included (runProgram is
 * given `context.output`), prints a live secret value the process holds (SecretValues).
 */
export function createContext(output: Output, env: NodeJS.ProcessEnv): CliContext {
  const secrets = new SecretValues();
  secrets.pin(masterKeyEnvTexts(env));
  return {
    output: {
      out: (line) => output.out(secrets.mask(line)),
      err: (line) => output.err(secrets.mask(line)),
    },
    secrets,
    env,
    home: (command) => checkedHome(command.optsWithGlobals<{ home?: string }>().home, env),
  };
}

/** OACP_MASTER_KEY as set and in its other spellings; none when unset or malformed (its own refusal never quotes it). */
function masterKeyEnvTexts(env: NodeJS.ProcessEnv): string[] {
  const value = env[MASTER_KEY_ENV];
  if (value === undefined || value === '') return [];
  try {
    return [value.trim(), ...masterKeyTexts(parseMasterKeyEnv(value))];
  } catch {
    return [value.trim()];
  }
}

/** Error codes that mean "a flag was malformed": the same exit (2) as commander's own refusals. */
const USAGE_CODES: ReadonlySet<string> = new Set(['MCP_BAD_OPTIONS']);

/** Parses and runs; returns the exit code. Never lets a stack trace reach the user. */
export async function runProgram(program: Command, argv: readonly string[], output: Output): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed its message; help and version exit 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CliExit) {
      if (error.message !== '') output.err(`oacp: ${error.message}`);
      return error.exitCode;
    }
    if (error instanceof OacpError && USAGE_CODES.has(error.code)) {
      // A malformed flag is a usage error wherever it is found: exit 2, worded as `oacp run` words it.
      output.err(`oacp: ${error.message}`);
      return 2;
    }
    output.err(failureLine(error));
    if (process.env.OACP_DEBUG === '1' && error instanceof Error && error.stack) output.err(error.stack);
    return 1;
  }
}
