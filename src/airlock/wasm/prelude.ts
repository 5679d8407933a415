/**
 * Guest-side glue, evaluated once per sandbox. It receives the one raw host
 * function and the list of grants, builds `oacp`, `console` and (if granted)
 * `fetch` on top of it, and returns the input setter. The raw function stays
 * in this closure: guest code never sees it, and everything it is handed has
 * already been through `JSON.stringify` inside the guest, so no guest object
 * reference ever reaches the host. Host functions the manifest does not grant
 * are simply absent (`typeof oacp.tools === 'undefined'`), and so is
 * `SharedArrayBuffer` (see below).
 */
export const PRELUDE = `(function (raw, grants) {
  'use strict';
  // QuickJS grows a growable SharedArrayBuffer without reallocating it: after grow() its views
  // read and write the whole linear memory, every neighbour guest's heap in the module included.
  // Guests have no threads or Atomics to share memory with, so the constructor goes.
  delete globalThis.SharedArrayBuffer;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const freeze = Object.freeze;
  const define = (target, name, value) =>
    Object.defineProperty(target, name, { value, writable: false, enumerable: false, configurable: false });
  const json = (value) => {
    const text = stringify(value);
    return text === undefined ? 'null' : text;
  };
  const call = (kind, payload) => raw(kind, json(payload)).then((text) => (text === undefined ? undefined : parse(text)));
  const render = (args) =>
    args
      .map((arg) => {
        if (typeof arg === 'string') return arg;
        try {
          const text = stringify(arg);
          return text === undefined ? String(arg) : text;
        } catch (error) {
          return String(arg);
        }
      })
      .join(' ');
  const log = (level) => (...args) => {
    raw('log', json({ level, message: render(args) }));
  };
  const oacp = { log: log('info') };
  if (grants.tools) {
    oacp.tools = freeze({ call: (name, args) => call('tool', { name: String(name), args: args === undefined ? null : args }) });
  }
  if (grants.contextGet || grants.contextPut) {
    const context = {};
    if (grants.contextGet) context.get = (key) => call('context.get', { key: String(key) });
    if (grants.contextPut) context.put = (key, value) => call('context.put', { key: String(key), value: value === undefined ? null : value });
    oacp.context = freeze(context);
  }
  if (grants.models) {
    oacp.models = freeze({ chat: (request) => call('models.chat', { request }) });
  }
  define(globalThis, 'oacp', freeze(oacp));
  define(globalThis, 'console', freeze({ log: log('info'), info: log('info'), warn: log('warn'), error: log('error') }));
  if (grants.fetch) {
    const response = (r) =>
      freeze({
        ok: r.status >= 200 && r.status < 300,
        status: r.status,
        statusText: r.statusText,
        url: r.url,
        headers: freeze(r.headers),
        text: async () => r.body,
        json: async () => parse(r.body),
      });
    define(globalThis, 'fetch', (url, init) => call('fetch', { url: String(url), init: init === undefined ? {} : init }).then(response));
  }
  return (text) => {
    globalThis.input = parse(text);
  };
})`;

export interface Grants {
  readonly tools: boolean;
  readonly contextGet: boolean;
  readonly contextPut: boolean;
  readonly fetch: boolean;
  readonly models: boolean;
}
