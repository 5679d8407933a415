// Preloaded (`NODE_OPTIONS=--require /run/oacp/fetch-proxy.cjs`) into every Node program of a
// sandbox that has the egress proxy (docs/egress.md, "Node's fetch" and "Node's HTTP clients").
// Node's built-in fetch (undici) and node:http/node:https ignore HTTP_PROXY/HTTPS_PROXY and have
// no route out of the sandbox; this makes fetch's global dispatcher undici's EnvHttpProxyAgent,
// and http.globalAgent/https.globalAgent agents that go through the proxy (node-http-proxy.cjs),
// all reading those variables and NO_PROXY like curl does. Bundled at build with the parts of
// undici it uses, which go to a second file loaded at the first fetch (fetch-proxy-undici.cjs,
// scripts/bundle-fetch-proxy.mjs): the sandbox sees none of OACP's node_modules. It is a route,
// not a fence: the network namespace and the proxy enforce the allowlist without it.
//
// - Nothing happens without a proxy variable: such a process has nothing to reach.
// - A dispatcher already set (a preload of the workload's own, run before this one) is kept.
// - The fetch agent is made at the first fetch, not at start: a program that never fetches pays
//   for loading node:http/node:https (docs/egress.md, "Cost"), not for parsing undici. A program
//   that sets its own later (undici's setGlobalDispatcher, which redefines the property)
//   replaces it: the property is configurable. So does one that sets http.globalAgent.
// - Any failure (an undici that cannot load in an older Node, a malformed proxy URL) leaves the
//   property to Node, which then installs its own agent: no route out, as without this file.
'use strict';

const { proxyFor, undiciNoProxy } = require('./proxy-env.cjs');

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

function proxied(env) {
  return Boolean(env.HTTP_PROXY || env.HTTPS_PROXY || env.http_proxy || env.https_proxy);
}

function install() {
  if (!proxied(process.env) || Object.getOwnPropertyDescriptor(globalThis, GLOBAL_DISPATCHER)) return;
  const settle = (value) => {
    Object.defineProperty(globalThis, GLOBAL_DISPATCHER, {
      value,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  };
  Object.defineProperty(globalThis, GLOBAL_DISPATCHER, {
    enumerable: false,
    configurable: true,
    get() {
      let agent;
      try {
        // A file of its own beside this one (/run/oacp): undici is parsed at the first fetch only.
        const EnvHttpProxyAgent = require('./fetch-proxy-undici.cjs');
        // http:// URLs in absolute form, not tunnelled: a refusal is then the proxy's 403 with its
        // reason (x-oacp-egress-denied), which the program sees, not a bare failed CONNECT.
        agent = new EnvHttpProxyAgent({ proxyTunnel: false, noProxy: undiciNoProxy(process.env) });
      } catch {
        agent = undefined;
      }
      settle(agent);
      return agent;
    },
    set: settle,
  });
}

install();
try {
  // Required here, not above: without a proxy variable node:http and node:https are not loaded.
  if (proxied(process.env)) require('./node-http-proxy.cjs').installProxyAgents(process.env, proxyFor);
} catch {
  // Node's own agents stay: no route out, as without this file.
}
