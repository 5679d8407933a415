// The part of the sandbox preload (fetch-proxy-preload.cjs) that needs undici: loaded at the
// first fetch() only, from its own file, so that a Node start in a sandbox with the egress proxy
// does not parse undici's 300 kB unless the program fetches (docs/egress.md, "Cost").
'use strict';

// What undici's index adds to every dispatcher (connect(), used to open CONNECT tunnels).
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js'));

module.exports = require('undici/lib/dispatcher/env-http-proxy-agent.js');
