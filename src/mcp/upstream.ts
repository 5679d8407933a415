import type { ProcessSandbox, TierName, Usage } from '../airlock/sandbox.js';
import { clipText } from '../core/clip-text.js';
import { redactText } from '../core/redact.js';
import { escapeControl, quotedLine } from '../core/terminal-text.js';
import { LineTransport } from './line-transport.js';
import { perRequestSignals } from './request-signals.js';
import type { ServerIdentity } from './server-identity.js';
import { processStderrBacklogged, relayStderr } from './server-stderr.js';
import { fromSdkTransport, type MessageTransport } from './transport.js';

/** One live connection to the upstream server; a restart makes a new one. */
export interface UpstreamLink {
  readonly transport: MessageTransport;
  /** Resolves (never rejects) with a description once the server is gone. */
  readonly ended: Promise<string>;
  readonly tier: TierName | 'remote';
  usage(): Usage | undefined;
  stop(): Promise<void>;
}

/** Makes upstream links: a sandboxed process per link, or a remote MCP endpoint. */
export interface UpstreamConnector {
  readonly identity: ServerIdentity;
  connect(): Promise<UpstreamLink>;
}

/**
 * A server started by `start()` (normally an Airlock tier) and spoken to over
 * its stdio. Its stderr goes to `stderr` line by line (the bridge's own stderr
 * by default, control characters escaped: escapeControl) because MCP servers
 * log there and stdout is the protocol.
 */
export function processUpstream(options: {
  identity: ServerIdentity;
  start: () => Promise<ProcessSandbox>;
  stderr?: (line: string) => void;
  /** True while `stderr`'s own output is backlogged: server lines are then dropped (the bridge's stderr by default). */
  stderrBacklogged?: () => boolean;
  /**
   * Masks the values the server was handed (SecretValues.mask): a line of its stdout that is not
   * JSON is reported quoted, masked with it and the pattern redactor first, then cut (80
   * characters). Without it such a line is reported by its length only.
   */
  mask?: (text: string) => string;
  /** Told each sandbox started (one per session and restart), e.g. to read its egress log later. */
  onSandbox?: (sandbox: ProcessSandbox) => void;
  /**
   * Where a limit the server meets while it runs is told, at once: a server refused a thread
   * may hang rather than exit (`stderr`'s sink by default).
   */
  notice?: (line: string) => void;
}): UpstreamConnector {
  return {
    identity: options.identity,
    async connect() {
      const sandbox = await options.start();
      options.onSandbox?.(sandbox);
      // Without `mask` nothing knows what the server was handed: its lines stay unquoted.
      const quote = options.mask === undefined ? {} : { quote: stdoutQuote(options.mask) };
      const transport = new LineTransport(sandbox.stdout, sandbox.stdin, quote);
      relayStderr(
        sandbox.stderr,
        options.stderr ?? ((line) => process.stderr.write(`${escapeControl(line)}\n`)),
        {
          backlogged: options.stderrBacklogged ?? processStderrBacklogged,
        },
      );
      const notice = options.notice ?? options.stderr ?? ((line) => process.stderr.write(`${line}\n`));
      void sandbox.limitNotice?.then((limit) =>
        notice(`server at a limit of the Airlock (${limit.limit}): ${limit.detail}`),
      );
      const ended = sandbox.exit.then(
        (status) => {
          if (status.killedBy !== undefined)
            return `server killed by the Airlock (${status.killedBy})${status.detail === undefined ? '' : `: ${status.detail}`}`;
          if (status.signal !== null) return `server ended by ${status.signal}`;
          return `server exited with code ${status.code}`;
        },
        (error: unknown) => `server failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return {
        transport,
        ended,
        tier: sandbox.tier,
        usage: () => sandbox.usage(),
        stop: () => sandbox.stop(),
      };
    },
  };
}

/** How much of a line that is not JSON is masked and quoted from: more than any secret's length. */
const QUOTED_PREFIX_CHARS = 64 * 1024;

/** A server's stdout line that is not JSON (a banner), masked then quoted (quotedLine). */
function stdoutQuote(mask: (text: string) => string): (line: string) => string {
  return (line) => quotedLine(redactText(mask(clipText(line, QUOTED_PREFIX_CHARS))), 80);
}

/** The SDK's Streamable HTTP client for a remote server, each request with its own signal (request-signals.ts). */
export async function remoteTransport(url: URL) {
  // The SDK's HTTP client is loaded only for a remote server: a local bridge starts without it.
  const { StreamableHTTPClientTransport } = await import(
    '@modelcontextprotocol/sdk/client/streamableHttp.js'
  );
  return new StreamableHTTPClientTransport(url, { fetch: perRequestSignals() });
}

/** A remote MCP server reached over Streamable HTTP (`--upstream URL`). */
export function urlUpstream(options: { identity: ServerIdentity; url: URL }): UpstreamConnector {
  return {
    identity: options.identity,
    async connect() {
      const transport = fromSdkTransport(await remoteTransport(options.url));
      let end: (why: string) => void = () => undefined;
      const ended = new Promise<string>((resolve) => {
        end = resolve;
      });
      // The session watches `ended`, never the transport's onclose, so this hook stays ours.
      transport.onclose = () => end('remote server closed the connection');
      return {
        transport,
        ended,
        tier: 'remote' as const,
        usage: () => undefined,
        stop: async () => {
          await transport.close();
          end('stopped');
        },
      };
    },
  };
}
