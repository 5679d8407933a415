// Global agents that send node:http and node:https requests through the sandbox's egress proxy
// (docs/egress.md, "Node's HTTP clients"), so node-fetch, got, axios's direct requests and every
// other client built on them reach what the allowlist allows. Part of the sandbox's preload
// (fetch-proxy-preload.cjs). Written here rather than taken from https-proxy-agent: the two
// agents are a few lines over Node's own, and a refused CONNECT must reach the program with the
// proxy's reason, where that library hands the program the proxy's 403 as if the server sent it.
//
// - http: absolute form (`GET http://host:port/path`) to the proxy, so a refusal is the proxy's
//   403 with x-oacp-egress-denied, read by the program like any response.
// - https: a CONNECT tunnel, then TLS with the program's own options (ca, servername,
//   rejectUnauthorized...) against the real host: the proxy sees only the tunnel. A refused
//   CONNECT is an error (code ERR_PROXY_TUNNEL, as in Node's own proxy support) naming the reason.
// - Loopback, NO_PROXY and Unix-socket requests go direct (proxy-env.cjs). So do requests with an
//   agent of the program's own (`agent:`, `agent: false`): its choice, and outside the sandbox's
//   loopback they fail at the network namespace, which has no route anywhere else.
'use strict';

const http = require('node:http');
const https = require('node:https');
const { shouldProxy } = require('./proxy-env.cjs');

const kToProxy = Symbol('oacp.toEgressProxy');

function authority(options) {
  const host = String(options.host);
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${options.port}`;
}

// `agent: false` makes Node build `new (globalAgent.constructor)()`: such an agent has no proxy
// and dials directly, as the program asked.
/** Where the proxy listens; a URL's hostname keeps an IPv6 address's brackets, net.connect takes it bare. */
function proxyAddress(proxy) {
  return { host: proxy.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(proxy.port) || 80 };
}

function proxiedBy(proxy, env, options) {
  return proxy !== undefined &&
    options.socketPath === undefined &&
    shouldProxy(env, String(options.host), Number(options.port))
    ? proxy
    : undefined;
}

class ProxiedHttpAgent extends http.Agent {
  constructor(proxy, env, options) {
    super(options);
    this.proxy = proxy;
    this.env = env;
  }

  addRequest(req, options) {
    if (proxiedBy(this.proxy, this.env, options) && req.path.startsWith('/')) {
      req.path = `http://${authority(options)}${req.path}`;
      // Headers given as an array (or with Expect) were serialised already: fix their request line.
      if (req._header) req._header = req._header.replace(/^(\S+) \S+/, `$1 ${req.path}`);
    }
    return super.addRequest(req, options);
  }

  createConnection(options, callback) {
    const proxy = proxiedBy(this.proxy, this.env, options);
    if (!proxy) return super.createConnection(options, callback);
    const socket = super.createConnection(proxyAddress(proxy), callback);
    socket[kToProxy] = true;
    return socket;
  }

  // The proxy dials the host anew for every request, so a kept-alive connection to it saves
  // only a local connect, and reusing one the proxy is closing for idleness would fail the
  // request: one connection per request.
  keepSocketAlive(socket) {
    return socket[kToProxy] ? false : super.keepSocketAlive(socket);
  }
}

function tunnelRefused(target, response) {
  const reason = response.headers['x-oacp-egress-denied'] ?? response.statusMessage ?? '';
  const error = new Error(`the egress proxy refused CONNECT ${target}: ${response.statusCode} ${reason}`);
  error.code = 'ERR_PROXY_TUNNEL';
  error.statusCode = response.statusCode;
  return error;
}

class TunnelingHttpsAgent extends https.Agent {
  constructor(proxy, env, options) {
    super(options);
    this.proxy = proxy;
    this.env = env;
  }

  createConnection(options, callback) {
    const proxy = proxiedBy(this.proxy, this.env, options);
    if (!proxy) return super.createConnection(options, callback);
    const target = authority(options);
    const connect = http.request({
      ...proxyAddress(proxy),
      method: 'CONNECT',
      path: target,
      headers: { host: target },
      agent: false,
    });
    // Node reports every answer to a CONNECT as 'connect', a refusal included.
    connect.once('connect', (response, socket, head) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        callback(tunnelRefused(target, response));
        return;
      }
      // Bytes the proxy sent past its answer belong to the tunnel.
      if (head.length > 0) socket.unshift(head);
      let tlsSocket;
      try {
        tlsSocket = super.createConnection({ ...options, socket });
      } catch (error) {
        socket.destroy();
        callback(error);
        return;
      }
      callback(null, tlsSocket);
    });
    connect.once('error', (error) => callback(error));
    connect.end();
    return undefined;
  }
}

/**
 * Makes the agents Node uses when a request names none. Each is installed only while Node's own is
 * in place (a `--require` of the program's that set one runs first and wins); a program that sets
 * `http.globalAgent` later replaces it.
 */
function installProxyAgents(env, proxyFor) {
  const plain = proxyFor(env, 'http:');
  if (plain && Object.getPrototypeOf(http.globalAgent) === http.Agent.prototype)
    http.globalAgent = new ProxiedHttpAgent(plain, env, http.globalAgent.options);
  const secure = proxyFor(env, 'https:');
  if (secure && Object.getPrototypeOf(https.globalAgent) === https.Agent.prototype)
    https.globalAgent = new TunnelingHttpsAgent(secure, env, https.globalAgent.options);
}

module.exports = { installProxyAgents, ProxiedHttpAgent, TunnelingHttpsAgent };
