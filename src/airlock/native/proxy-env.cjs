// Which proxy a request of a sandboxed Node program goes through, read from the environment the
// way curl and undici's EnvHttpProxyAgent read it (docs/egress.md, "Node's HTTP clients"): the
// lower-case spelling first, NO_PROXY entries `host`, `.domain`, `*.domain` (a name and its
// subdomains), each optionally with `:port`, or `*` for none at all. Part of the sandbox's
// preload (fetch-proxy-preload.cjs); plain CommonJS with no dependency.
//
// The sandbox's own loopback is never proxied: the proxy would dial the host's loopback, which it
// always refuses (docs/egress.md, step 4), while a direct connection reaches only the sandbox's own
// (the egress forwarder itself listens there, and a program may talk to a helper it started).
'use strict';

const LOOPBACK_NO_PROXY = ['localhost', '127.0.0.1', '[::1]'];

/** The proxy URL for `protocol` ('http:' or 'https:'), or undefined when there is none or it is malformed. */
function proxyFor(env, protocol) {
  const value =
    protocol === 'https:'
      ? (env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY)
      : (env.http_proxy ?? env.HTTP_PROXY);
  if (!value) return undefined;
  try {
    const url = new URL(value.includes('://') ? value : `http://${value}`);
    return url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function noProxyValue(env) {
  return env.no_proxy ?? env.NO_PROXY ?? '';
}

/** NO_PROXY for undici's EnvHttpProxyAgent: theirs plus the loopback names, so fetch() decides as node:http does. */
function undiciNoProxy(env) {
  const theirs = noProxyValue(env).trim();
  return theirs === '*' ? theirs : [theirs, ...LOOPBACK_NO_PROXY].filter(Boolean).join(',');
}

function bare(hostname) {
  return hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

function isLoopback(hostname) {
  const host = bare(hostname);
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    /^::ffff:127\./.test(host)
  );
}

function entriesOf(value) {
  return value
    .split(/[,\s]/)
    .filter(Boolean)
    .map((entry) => {
      // A bare IPv6 address (`::1`, `2001:db8::1`) has no port; `[2001:db8::1]:443` has one.
      const bareV6 = !entry.startsWith('[') && entry.split(':').length > 2;
      const parsed = bareV6 ? null : /^(.+):(\d+)$/.exec(entry);
      const host = parsed ? parsed[1] : entry;
      return { hostname: bare(host.replace(/^\*?\./, '')), port: parsed ? Number(parsed[2]) : 0 };
    });
}

/** Whether a request to hostname:port goes through the proxy (true) or is dialled directly (false). */
function shouldProxy(env, hostname, port) {
  if (isLoopback(hostname)) return false;
  const value = noProxyValue(env).trim();
  if (value === '*') return false;
  const host = bare(hostname);
  for (const entry of entriesOf(value)) {
    if (entry.port !== 0 && entry.port !== port) continue;
    if (host === entry.hostname || host.endsWith(`.${entry.hostname}`)) return false;
  }
  return true;
}

module.exports = { proxyFor, shouldProxy, undiciNoProxy };
