import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { imitatedMethod } from '../../src/mcp/method-names.js';
import { eventually, initialized, rawHarness } from './raw-harness.js';

// Shapes of client traffic a lenient server would read differently from the bridge. Each one
// is the attack, then: what reached the server, and the receipts.

const sentTo = (messages: Record<string, unknown>[], methods: string[]) =>
  messages.filter((m) => typeof m.method === 'string' && methods.includes(m.method));

describe('method names that imitate an MCP method', () => {
  it('knows an imitation from the method and from an extension', () => {
    expect(imitatedMethod('tools/call')).toBeUndefined();
    expect(imitatedMethod('x/custom')).toBeUndefined();
    for (const name of [
      'Tools/call',
      'tools/call ',
      ' tools/call',
      'tools/call\t',
      'tools\u200b/call',
      'ｔｏｏｌｓ/ｃａｌｌ',
      'TOOLS/CALL\u0000',
    ])
      expect(imitatedMethod(name), JSON.stringify(name)).toBe('tools/call');
    expect(imitatedMethod('Resources/Read')).toBe('resources/read');
  });

  it('attack: tools/call spelt in another case, with spaces, zero-width or full-width characters, as request or notification: never forwarded, each a refused call with its receipt', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const names = ['Tools/call', 'tools/call ', 'tools\u200b/call', 'ｔｏｏｌｓ/ｃａｌｌ'];
      const replies = await Promise.all(
        names.map((method, i) =>
          raw.request({
            jsonrpc: '2.0',
            id: 100 + i,
            method,
            params: { name: 'echo', arguments: { imitation: i } },
          }),
        ),
      );
      raw.send({
        jsonrpc: '2.0',
        method: 'TOOLS/CALL',
        params: { name: 'echo', arguments: { notified: 1 } },
      });
      const resources = await raw.request({
        jsonrpc: '2.0',
        id: 200,
        method: 'Resources/Read',
        params: { uri: 'file:///etc/shadow' },
      });
      await eventually(() => raw.receipts.records.length === names.length + 2, 'a receipt per refusal');
      const extension = await raw.request({ jsonrpc: '2.0', id: 300, method: 'x/custom', params: {} });
      expect(sentTo(raw.serverGot(), [...names, 'TOOLS/CALL', 'Resources/Read'])).toEqual([]);
      expect(sentTo(raw.serverGot(), ['x/custom'])).toHaveLength(1);
      expect(extension.error).toMatchObject({ message: 'no method x/custom' });
      for (const reply of replies) {
        expect(reply.result).toMatchObject({ isError: true, _meta: { 'oacp/receipt': expect.anything() } });
        expect(JSON.stringify(reply.result)).toContain('is not tools/call');
      }
      expect(resources.error).toMatchObject({ code: -32601, data: { 'oacp/receipt': expect.anything() } });
      const calls = raw.receipts.records.filter((r) => r.tool === 'echo');
      expect(calls).toHaveLength(names.length + 1);
      for (const record of calls) expect(record).toMatchObject({ outcome: 'denied' });
      expect(calls.map((r) => r.argumentsDigest).sort()).toEqual(
        [...names.map((_, i) => jcsDigest({ imitation: i })), jcsDigest({ notified: 1 })].sort(),
      );
      expect(raw.receipts.records.some((r) => r.tool === 'client-request:Resources/Read')).toBe(true);
    } finally {
      await raw.close();
    }
  });
});

describe('invalid JSON-RPC envelopes around a tools/call', () => {
  it('attack: a batch array (MCP forbids batches), jsonrpc 1.0, a fractional id, params as an array: nothing forwarded, each call a refusal with its receipt', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const call = (id: unknown, args: unknown) => ({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: args },
      });
      raw.send(
        JSON.stringify([
          call(1, { batched: 1 }),
          call(2, { batched: 2 }),
          { jsonrpc: '2.0', id: 3, method: 'ping' },
        ]),
      );
      raw.send({ ...call(4, { v1: 1 }), jsonrpc: '1.0' });
      raw.send(call(5.5, { fractional: 1 }));
      raw.send({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: ['echo', { positional: 1 }] });
      await eventually(() => raw.receipts.records.length === 5, 'five refusal receipts');
      await raw.request({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
      expect(sentTo(raw.serverGot(), ['tools/call'])).toEqual([]);
      const errors = raw.received.filter((m) => m.error !== undefined);
      expect(errors.length).toBeGreaterThanOrEqual(4);
      for (const record of raw.receipts.records) {
        expect(record.outcome).toBe('denied');
        expect(record.decision.reason).toContain('invalid JSON-RPC message');
      }
      expect(raw.receipts.records.map((r) => r.argumentsDigest).sort()).toEqual(
        [{ batched: 1 }, { batched: 2 }, { v1: 1 }, { fractional: 1 }, {}].map((a) => jcsDigest(a)).sort(),
      );
    } finally {
      await raw.close();
    }
  });

  it('attack: an integer id past 2^53 (answered under a neighbouring id the client never sent): refused as invalid, the call never forwarded, its refusal recorded', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      raw.send(
        '{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"echo","arguments":{"big":1}}}',
      );
      await eventually(() => raw.receipts.records.length === 1, 'the refusal recorded');
      await raw.request({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
      expect(sentTo(raw.serverGot(), ['tools/call'])).toEqual([]);
      expect(raw.received.some((m) => m.id === 9007199254740992)).toBe(false);
      const refusal = raw.received.find((m) => m.error !== undefined && m.id === null);
      expect(JSON.stringify(refusal?.error)).toContain('2^53-1');
      expect(raw.receipts.records[0]).toMatchObject({
        outcome: 'denied',
        argumentsDigest: jcsDigest({ big: 1 }),
      });
      // The largest safe id is an id like any other.
      const largest = await raw.request({
        jsonrpc: '2.0',
        id: Number.MAX_SAFE_INTEGER,
        method: 'tools/call',
        params: { name: 'echo', arguments: {} },
      });
      expect(largest.result).toMatchObject({ content: [{ type: 'text', text: '{}' }] });
    } finally {
      await raw.close();
    }
  });

  it('attack: duplicate keys, escaped key names, __proto__ keys and numbers JCS rewrites: the receipt digests exactly what the server parsed', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const lines = [
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":1},"arguments":{"a":2}}}',
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","\\u0061rguments":{"b":1}}}',
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"__proto__":{"x":1},"y":2}}}',
        '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"n":1e21,"z":-0,"f":1.0,"big":123456789012345678901234567890}}}',
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"k":1}},"params":{"name":"echo","arguments":{"k":2}}}',
        '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","arguments":{"crlf":1}}}\r',
        '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"nul":"a\\u0000b"}}}',
      ];
      for (const line of lines) raw.send(line);
      await eventually(() => raw.receipts.records.length === lines.length, 'a receipt per call');
      const received = sentTo(raw.serverGot(), ['tools/call']).map((m) =>
        jcsDigest((m.params as { arguments?: unknown }).arguments ?? {}),
      );
      expect(received).toHaveLength(lines.length);
      expect(raw.receipts.records.map((r) => r.argumentsDigest).sort()).toEqual(received.sort());
      // The server got one arguments member, the one the check saw (the last), never the other.
      expect(JSON.stringify(raw.serverGot())).not.toContain('"a":1');
    } finally {
      await raw.close();
    }
  });

  it('attack: member names that differ only in case or Unicode form (NAME, Arguments, argumentſ, Method, Params), which Go servers read as one: never forwarded, each a refusal with its receipt', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      // encoding/json keeps the last member it folds to a field: each line runs `hang` (or a
      // tools/call) on a Go server while the bridge would have checked and recorded something else.
      const lines = [
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","NAME":"hang","arguments":{"a":1}}}',
        '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"a":1},"Arguments":{"b":2}}}',
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","argumentſ":{"c":3}}}',
        '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","Arguments":{"c":3}}}',
        '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"path":"/tmp/a","PATH":"/etc/shadow"}}}',
        '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"},"Params":{"name":"hang"}}',
        '{"jsonrpc":"2.0","id":6,"method":"ping","Method":"tools/call","params":{"name":"hang"}}',
        '{"jsonrpc":"2.0","method":"notifications/initialized","METHOD":"tools/call","params":{"name":"hang"}}',
      ];
      for (const line of lines) raw.send(line);
      await eventually(() => raw.receipts.records.length === lines.length, 'a receipt per message');
      for (const record of raw.receipts.records) {
        expect(record.outcome).toBe('denied');
        expect(record.decision.reason).toMatch(/only in case, spacing or Unicode form/);
      }
      const got = JSON.stringify(raw.serverGot());
      for (const name of ['NAME', 'Arguments', 'argumentſ', 'PATH', 'Params', 'Method', 'METHOD'])
        expect(got).not.toContain(`"${name}"`);
      expect(sentTo(raw.serverGot(), ['tools/call', 'ping'])).toEqual([]);
      // With no `method` at all the message is invalid JSON-RPC; the tools/call its `Method` names
      // (to a Go server) is recorded as refused all the same.
      raw.send('{"jsonrpc":"2.0","id":9,"Method":"tools/call","params":{"name":"hang"}}');
      await eventually(() => raw.receipts.records.length === lines.length + 1, 'its receipt');
      expect(raw.receipts.records.at(-1)).toMatchObject({ tool: 'hang', outcome: 'denied' });
      expect(raw.receipts.records.at(-1)?.decision.reason).toContain('was not forwarded');
      // Plain names (and one object's distinct names) are untouched: the session serves on.
      const answer = await raw.request({
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: { name: 'echo', arguments: { a: 1, b: { Ab: 1, ac: 2 } } },
      });
      expect(answer.result).toMatchObject({
        content: [{ type: 'text', text: '{"a":1,"b":{"Ab":1,"ac":2}}' }],
      });
    } finally {
      await raw.close();
    }
  });
});

describe('a hostile server', () => {
  it('attack: the server asks the client with a method imitating sampling/createMessage, and sends an imitated notification: refused and recorded, the client never sees either', async () => {
    const raw = await rawHarness({
      env: { RAW_ASK_ON_INIT: 'Sampling/createMessage', RAW_NOTIFY_ON_INIT: 'Notifications/Message ' },
    });
    try {
      await initialized(raw);
      await eventually(
        () => raw.receipts.records.some((r) => r.tool === 'server-request:Sampling/createMessage'),
        'the refusal receipt',
      );
      await raw.request({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
      const recorded = raw.receipts.records.find((r) => r.tool === 'server-request:Sampling/createMessage');
      expect(recorded).toMatchObject({ outcome: 'denied', decision: { effect: 'deny' } });
      expect(recorded?.decision.reason).toContain('is not sampling/createMessage');
      expect(
        raw.received.filter((m) => typeof m.method === 'string' && /sampling|message/i.test(m.method)),
      ).toEqual([]);
      const answer = raw.serverGot().find((m) => m.id === 'srv-1');
      expect(answer?.error).toMatchObject({ message: expect.stringContaining('OACP refused') });
    } finally {
      await raw.close();
    }
  });

  it('attack: the server answers an id never asked and answers one call twice: the client gets one answer, the call one receipt, and the session keeps serving', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'twice' },
      });
      expect(JSON.stringify(reply.result)).toContain('first');
      const echo = await raw.request({
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: { name: 'echo', arguments: { after: 1 } },
      });
      expect(JSON.stringify(echo.result)).toContain('after');
      expect(raw.received.filter((m) => m.id === 7)).toHaveLength(1);
      expect(JSON.stringify(raw.received)).not.toContain('unasked');
      expect(JSON.stringify(raw.received)).not.toContain('second');
      expect(raw.receipts.records.filter((r) => r.tool === 'twice')).toHaveLength(1);
      expect(raw.receipts.records).toHaveLength(2);
    } finally {
      await raw.close();
    }
  });

  it('attack: the server answers with both a result and an error: the client gets one well-formed error (never both, which an SDK client cannot read), and the call a receipt saying the answer was malformed', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const call = await raw.request({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: 'both' },
      });
      expect(call.result).toBeUndefined();
      expect(JSON.stringify(call.error)).toMatch(
        /malformed response: a response has a result or an error, not both/,
      );
      const vendor = await raw.request({ jsonrpc: '2.0', id: 10, method: 'x-vendor/both', params: {} });
      expect(vendor.result).toBeUndefined();
      expect(JSON.stringify(vendor.error)).toMatch(/not both/);
      const records = raw.receipts.records.filter((r) => r.tool === 'both');
      expect(records).toHaveLength(1);
      expect(records[0]?.outcome).toBe('error');
      expect(records[0]?.resultDigest).toBeUndefined();
      // The session keeps serving.
      const echo = await raw.request({
        jsonrpc: '2.0',
        id: 11,
        method: 'tools/call',
        params: { name: 'echo', arguments: { after: 2 } },
      });
      expect(JSON.stringify(echo.result)).toContain('after');
    } finally {
      await raw.close();
    }
  });
});
