import { scrubEnvironment } from '../airlock/native/env.js';
import { manifestFromOptions } from './manifest-from-options.js';
import type { McpRunOptions } from './options.js';

/**
 * Variables every process has whose values are paths or settings, not secrets: masking them would
 * hide the home and the working directory from every diagnostic the bridge prints.
 */
const PUBLIC_ENV = /^(HOME|USER|LOGNAME|SHELL|PWD|TMPDIR|TERM|LANG|LANGUAGE|TZ|LC_[A-Z_]+)$/;

/**
 * The values of the environment variables a server is handed (`--allow-env`, a manifest's
 * `capabilities.env`, a catalog entry's grants): API tokens, mostly. A server can quote them back
 * in an error or on stderr, so each is registered with the bridge's SecretValues and never
 * reaches OACP's own log lines or receipts. The same scrub the sandbox applies picks them.
 */
export function passedSecretValues(
  options: McpRunOptions,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  let patterns: readonly string[] = options.allowEnv;
  try {
    patterns = manifestFromOptions(options, options.name ?? 'server').capabilities.env;
  } catch {
    // A bad manifest is refused where the server starts, with its reason; the flags' own names still count.
  }
  return Object.entries(scrubEnvironment(env, patterns))
    .filter(([name]) => name !== 'PATH' && !PUBLIC_ENV.test(name))
    .map(([, value]) => value);
}
