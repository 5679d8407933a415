import { oneLine } from '../../core/terminal-text.js';
import type { LiveBridge } from '../../mcp/http-bridge-record.js';

/**
 * What `oacp doctor` says of the client authentication of the `--http` bridges on a home: the
 * rule every bridge enforces, then each running bridge's mode (read from the record it holds
 * while it lives: http-bridge-record.ts), never a token.
 */
export function describeHttpBridges(bridges: { live: LiveBridge[]; stale: number }): string[] {
  const lines = [
    'mcp --http client authentication: a bridge refuses (401) every request without Authorization: Bearer <token> before reading it, unless started with --http-auth none (loopback only)',
  ];
  if (bridges.live.length === 0) lines.push('  no --http bridge running on this home');
  for (const bridge of bridges.live) lines.push(`  ${describe(bridge)}`);
  if (bridges.stale > 0)
    lines.push(`  ${bridges.stale} record(s) of killed bridges: the next bridge to start removes them`);
  return lines;
}

function describe(bridge: LiveBridge): string {
  if ('unreadable' in bridge) return `pid ${bridge.pid}: ${bridge.unreadable} (${oneLine(bridge.path, 300)})`;
  const { record } = bridge;
  const at = `pid ${record.pid} at ${oneLine(record.listen, 100)}`;
  if (record.auth === 'none') return `no   ${at}: none (--http-auth none): open to every local user`;
  const from =
    record.token?.source === 'operator'
      ? `the operator's --http-token-file ${oneLine(record.token.file, 300)}`
      : `a token the bridge made, in ${oneLine(record.token?.file ?? 'an unnamed file', 300)}`;
  return `ok   ${at}: bearer, ${from}`;
}
