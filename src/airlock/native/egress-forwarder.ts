import { nodeOptionsWithPreload } from './fetch-proxy.js';

/**
 * Inside a hardened sandbox only `lo` exists. Clients that honour HTTP_PROXY
 * reach the host's egress proxy through a forwarder listening on loopback and
 * relaying to the proxy's Unix socket, which is the one path out.
 */
export const SANDBOX_PROXY_SOCKET = '/run/oacp/egress.sock';
export const SANDBOX_PROXY_PORT = 3128;

/** /proc/net/tcp spelling of 127.0.0.1:<port> in LISTEN state. */
function listenLine(port: number): string {
  return ` 0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`;
}

/** `sh -c` prefix that starts socat, waits until it listens, then execs the workload ("$@"). */
export function forwarderArgs(port = SANDBOX_PROXY_PORT, socket = SANDBOX_PROXY_SOCKET): string[] {
  const script = [
    `/usr/bin/socat TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${socket} &`,
    'i=0',
    `while ! /usr/bin/grep -q '${listenLine(port)}' /proc/net/tcp; do`,
    '  i=$((i+1)); if [ "$i" -gt 2000 ]; then echo "oacp: egress forwarder did not start" >&2; exit 125; fi',
    'done',
    'exec "$@"',
  ].join('\n');
  return ['/bin/sh', '-c', script, 'oacp-egress'];
}

/**
 * Proxy variables for the workload; both spellings because tools disagree on case. With
 * `preload`, NODE_OPTIONS gains the preload that makes Node's built-in fetch and node:http(s),
 * which ignore the proxy variables, use them (fetch-proxy.ts), after whatever the user passed in
 * it (`theirNodeOptions`); without it, NODE_OPTIONS is theirs alone.
 */
export function proxyEnvironment(
  theirNodeOptions: string | undefined,
  preload: boolean,
  port = SANDBOX_PROXY_PORT,
): Record<string, string> {
  const url = `http://127.0.0.1:${port}`;
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    NO_PROXY: '',
    no_proxy: '',
    // Without the preload the user's NODE_OPTIONS, already in the scrubbed environment, stays as is.
    ...(preload ? { NODE_OPTIONS: nodeOptionsWithPreload(theirNodeOptions) } : {}),
  };
}
