import type { ProcessSandbox } from '../airlock/sandbox.js';
import { StderrTail } from './diagnose/stderr-tail.js';
import { LearnedCapabilities } from './learn.js';
import type { McpRunOptions } from './options.js';
import { prestartUpstream } from './prestarted-upstream.js';
import type { McpRunContext } from './run.js';
import type { UpstreamConnector } from './upstream.js';
import { upstreamFor } from './upstream-from-options.js';

/** A server whose package tree and tier are checked, ready to be bridged (maybe already started). */
export interface PreparedServer {
  readonly context: McpRunContext;
  readonly upstream: UpstreamConnector;
  readonly sandboxes: ProcessSandbox[];
  readonly learned: LearnedCapabilities | undefined;
  readonly stderrTail: StderrTail;
  /** Stops the server started early if no session claimed it. */
  discard(): Promise<void>;
}

/**
 * Checks the server's package tree against its pins and its tier, then (when
 * `early`, with where its stderr goes meanwhile) starts it: the checks always precede the start, which only the
 * session's first connect() claims (prestartUpstream).
 */
export async function prepareServer(
  options: McpRunOptions,
  context: McpRunContext,
  log: (line: string) => void,
  early: { readonly serverLog: (line: string) => void } | undefined,
): Promise<PreparedServer> {
  const sandboxes: ProcessSandbox[] = [];
  const learned = options.learn ? new LearnedCapabilities() : undefined;
  const stderrTail = new StderrTail();
  const checked = await upstreamFor(
    options,
    {
      ...context,
      stderrTail,
      ...(early === undefined ? {} : { serverLog: early.serverLog }),
      ...(learned === undefined ? {} : { onSandbox: (sandbox) => sandboxes.push(sandbox) }),
    },
    log,
  );
  const started = early === undefined ? undefined : prestartUpstream(checked);
  return {
    context,
    upstream: started?.connector ?? checked,
    sandboxes,
    learned,
    stderrTail,
    discard: async () => started?.discard(),
  };
}
