/**
 * How long an OACP listener (the gateway, the MCP bridge's `--http`, the
 * Airlock's egress proxy) lets a client take to send a request: its headers
 * within 10 s, all of it within 60 s, else `408` and the socket is closed (a
 * CONNECT tunnel, once open, is no request and is not timed). Node enforces both only when it
 * sweeps its connections, every `connectionsCheckingInterval` (30 s by
 * default): a client dribbling its headers held its socket for 30 s, not 10.
 * Swept every second, the limits are what they say. Given to `createServer`,
 * the only place Node takes the interval.
 */
export const SLOW_CLIENT_LIMITS = {
  headersTimeout: 10_000,
  requestTimeout: 60_000,
  connectionsCheckingInterval: 1_000,
} as const;
