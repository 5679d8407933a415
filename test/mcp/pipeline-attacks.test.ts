import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../../src/core/jcs.js';
import { resultDigest } from '../../src/mcp/call-recorder.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { deep, eventually, INITIALIZE, initialized, rawHarness } from './raw-harness.js';

const toolCalls = (messages: Record<string, unknown>[]) => messages.filter((m) => m.method === 'tools/call');

describe('limits before work (issue 10: calls with no receipt)', () => {
  it('attack: arguments nested 3,000 deep are refused before the server sees them, with a receipt of what was sent', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const args = { path: '/tmp/x', content: deep(3000) };
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: args },
      });
      expect(reply.result).toMatchObject({ isError: true });
      expect(JSON.stringify(reply.result)).toContain('deeper than 128 levels');
      expect(toolCalls(raw.serverGot())).toEqual([]);
      const [record] = raw.receipts.records;
      expect(record).toMatchObject({ tool: 'echo', outcome: 'denied', decision: { effect: 'deny' } });
      expect(record?.argumentsDigest).toBe(jcsDigest(args));
      const verified = await raw.receipts.verify(raw.receipts.refs[0]?.index ?? -1);
      expect(verified.ok).toBe(true);
      expect(verified.predicate).toMatchObject({ policy: { effect: 'deny', policyId: 'oacp/shape' } });
    } finally {
      await raw.close();
    }
  });

  it('attack: a number no double can hold (1e400) in the arguments is refused before the server sees it (it was forwarded as null, then no receipt could be written)', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      raw.send(
        '{"jsonrpc":"2.0","id":"inf","method":"tools/call","params":{"name":"echo","arguments":{"n":1e400}}}',
      );
      raw.send(
        '{"jsonrpc":"2.0","id":"ninf","method":"tools/call","params":{"name":"echo","arguments":{"n":-1e400}}}',
      );
      await eventually(
        () => raw.received.filter((m) => m.id === 'inf' || m.id === 'ninf').length === 2,
        'both answered',
      );
      for (const id of ['inf', 'ninf']) {
        const answer = raw.received.find((m) => m.id === id);
        expect(JSON.stringify(answer?.error)).toContain('a number too large for a double');
      }
      expect(toolCalls(raw.serverGot())).toEqual([]);
      expect(raw.events.some((e) => e.type === 'receipt-failed')).toBe(false);
      const after = await raw.request({
        jsonrpc: '2.0',
        id: 'after',
        method: 'tools/call',
        params: { name: 'echo', arguments: { n: 1e300 } },
      });
      expect(JSON.stringify(after.result)).toContain('1e+300');
    } finally {
      await raw.close();
    }
  });

  it('attack: a tools/call whose line is over 64 MiB, or holds 1e400, is refused before the server sees it, with a receipt digesting the bytes sent (it had none)', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const big = `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"echo","arguments":{"pad":"${'x'.repeat(65 * 1024 * 1024)}"}}}`;
      const huge =
        '{"jsonrpc":"2.0","id":"inf","method":"tools/call","params":{"name":"echo","arguments":{"n":1e400}}}';
      // Where neither the method nor the id can be read, the line is answered and not recorded.
      const unnamed = `{"params":{"pad":"${'y'.repeat(65 * 1024 * 1024)}"},"jsonrpc":"2.0","method":"tools/call","id":"x"}`;
      raw.send(big);
      raw.send(huge);
      await eventually(
        () => raw.received.filter((m) => m.id === 'big' || m.id === 'inf').length === 2,
        'both answered',
      );
      expect(toolCalls(raw.serverGot())).toEqual([]);
      const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
      for (const [id, line, limit] of [
        ['big', big, 'the line size limit'],
        ['inf', huge, 'a number too large for a double'],
      ] as const) {
        const answer = raw.received.find((m) => m.id === id) as {
          error?: { message?: string; data?: Record<string, unknown> };
        };
        expect(answer.error?.message).toContain(limit);
        const receipt = answer.error?.data?.['oacp/receipt'] as { index: number } | undefined;
        expect(receipt, `${id} has a receipt`).toBeDefined();
        const verified = await raw.receipts.verify(receipt?.index ?? -1);
        expect(verified.ok).toBe(true);
        expect(verified.predicate).toMatchObject({
          tool: { name: 'client-request:tools/call' },
          outcome: 'denied',
          policy: { effect: 'deny', policyId: 'oacp/shape' },
          argumentsDigest: jcsDigest({
            'oacp/unread': { sha256: sha(line), bytes: Buffer.byteLength(line) },
          }),
        });
      }
      const before = raw.receipts.records.length;
      raw.send(unnamed);
      await eventually(() => raw.received.some((m) => m.id === 'x'), 'the unnamed line answered');
      expect(raw.receipts.records.length).toBe(before);
    } finally {
      await raw.close();
    }
  }, 60_000);

  it('attack: a server result holding 1e400 is refused with a receipt of the call; the caller gets an error', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 'huge',
        method: 'tools/call',
        params: { name: 'huge-number', arguments: {} },
      });
      expect(JSON.stringify(reply.error)).toContain('a number too large for a double');
      expect(raw.events.some((e) => e.type === 'receipt-failed')).toBe(false);
      expect(raw.receipts.records.find((r) => r.tool === 'huge-number')).toMatchObject({ outcome: 'error' });
    } finally {
      await raw.close();
    }
  });

  it('attack: a client naming itself with 200,000 characters (or astral ones) still gets a receipt for every call it runs', async () => {
    for (const name of ['N'.repeat(200_000), '😀'.repeat(150)]) {
      const raw = await rawHarness();
      try {
        await raw.request({
          ...INITIALIZE,
          params: { ...INITIALIZE.params, clientInfo: { name, version: '1' } },
        });
        raw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        const reply = await raw.request({
          jsonrpc: '2.0',
          id: 'long-name',
          method: 'tools/call',
          params: { name: 'echo', arguments: { a: 1 } },
        });
        expect(reply.error).toBeUndefined();
        expect(raw.events.some((e) => e.type === 'receipt-failed')).toBe(false);
        const agent = raw.receipts.records.find((r) => r.tool === 'echo')?.agent ?? '';
        expect(agent.length).toBeLessThanOrEqual(256);
        expect(agent).toMatch(/^client:.*…sha256:[0-9a-f]{16}$/u);
      } finally {
        await raw.close();
      }
    }
  });

  it('attack: arguments nested 100,000 deep are refused cleanly with a receipt; the bridge keeps serving', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const nested = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      raw.send(
        `{"jsonrpc":"2.0","id":"very-deep","method":"tools/call","params":{"name":"echo","arguments":{"x":${nested}}}}`,
      );
      await eventually(() => raw.received.some((m) => m.id === 'very-deep'), 'the refusal');
      expect(raw.received.find((m) => m.id === 'very-deep')).toMatchObject({ result: { isError: true } });
      expect(raw.receipts.records[0]?.argumentsDigest).toBe(jcsDigest({ x: deep(100_000) }));
      expect(toolCalls(raw.serverGot())).toEqual([]);
      const after = await raw.request({
        jsonrpc: '2.0',
        id: 'after',
        method: 'tools/call',
        params: { name: 'echo', arguments: {} },
      });
      expect(after.result).toBeDefined();
    } finally {
      await raw.close();
    }
  });

  it('attack: a hostile server answers 3,000 deep; the result is withheld and the refusal is in the receipt', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'deep-result', arguments: { depth: 3000 } },
      });
      expect(reply.error).toMatchObject({ code: -32603 });
      expect(JSON.stringify(reply.error)).toContain('deeper than 128 levels');
      expect(raw.receipts.records).toHaveLength(1);
      expect(raw.receipts.records[0]).toMatchObject({ tool: 'deep-result', outcome: 'error' });
      expect(raw.receipts.records[0]?.argumentsDigest).toBe(jcsDigest({ depth: 3000 }));
    } finally {
      await raw.close();
    }
  });

  it('attack: a 10,000-deep array in any forwarded request gets an error answer and a receipt, and the session keeps serving', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const params = `{"uri":"file:///x","junk":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
      raw.send(`{"jsonrpc":"2.0","id":"deep","method":"resources/read","params":${params}}`);
      await eventually(() => raw.received.some((m) => m.id === 'deep'), 'an answer to the deep request');
      const answer = raw.received.find((m) => m.id === 'deep');
      expect(answer).toMatchObject({ error: { code: -32600 } });
      // Refused before forwarding, any method: recorded as client-request:<method>, the params digested.
      const deepArray = JSON.parse(`${'['.repeat(10_000)}${']'.repeat(10_000)}`) as unknown;
      expect(raw.receipts.records).toHaveLength(1);
      expect(raw.receipts.records[0]).toMatchObject({
        tool: 'client-request:resources/read',
        outcome: 'denied',
        decision: { effect: 'deny', reason: expect.stringContaining('deeper than 128 levels') },
        checks: { shape: { effect: 'deny' } },
      });
      expect(raw.receipts.records[0]?.argumentsDigest).toBe(jcsDigest({ uri: 'file:///x', junk: deepArray }));
      expect(JSON.stringify(answer)).toContain('oacp/receipt');
      // A notification over the limits is dropped, and recorded too.
      raw.send(`{"jsonrpc":"2.0","method":"notifications/roots/list_changed","params":${params}}`);
      await eventually(() => raw.receipts.records.length === 2, 'the notification refusal receipt');
      expect(raw.receipts.records[1]).toMatchObject({
        tool: 'client-notification:notifications/roots/list_changed',
        outcome: 'denied',
      });
      const after = await raw.request({
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'echo', arguments: { still: 'alive' } },
      });
      expect(JSON.stringify(after.result)).toContain('alive');
    } finally {
      await raw.close();
    }
  });

  it('attack: array arguments are refused with a receipt digesting the array, never forwarded as {}', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 4,
        method: 'tools/call',
        params: { name: 'echo', arguments: ['rm', '-rf', '/'] },
      });
      expect(reply.result).toMatchObject({ isError: true });
      expect(JSON.stringify(reply.result)).toContain('must be an object or absent, not an array');
      expect(toolCalls(raw.serverGot())).toEqual([]);
      expect(raw.receipts.records[0]?.argumentsDigest).toBe(jcsDigest(['rm', '-rf', '/']));
      expect(raw.receipts.records[0]?.argumentsDigest).not.toBe(jcsDigest({}));
    } finally {
      await raw.close();
    }
  });
  it('attack: a tool name of 100,000 characters is refused before the server sees it, its receipt names it bounded, and the session goes on (it ran, then no receipt could be written)', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const long = `${'x'.repeat(99_999)}\u{1F600}`;
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 'long',
        method: 'tools/call',
        params: { name: long, arguments: { path: '/tmp/x' } },
      });
      expect(reply.result).toMatchObject({ isError: true });
      expect(JSON.stringify(reply.result)).toContain('longer than the 256 a tool name may be');
      expect(toolCalls(raw.serverGot())).toEqual([]);
      expect(raw.events.some((e) => e.type === 'receipt-failed')).toBe(false);
      const [record] = raw.receipts.records;
      expect(record).toMatchObject({ outcome: 'denied', decision: { effect: 'deny' } });
      expect(record?.tool.length).toBeLessThanOrEqual(256);
      expect(record?.tool).toMatch(/^x{232}…sha256:[0-9a-f]{16}$/);
      expect(record?.argumentsDigest).toBe(jcsDigest({ path: '/tmp/x' }));
      const verified = await raw.receipts.verify(raw.receipts.refs[0]?.index ?? -1);
      expect(verified.ok).toBe(true);
      // A name of exactly 256 characters is a name like any other: past the length limit, refused
      // only because the server does not list it, its receipt naming it whole.
      const longest = 'y'.repeat(256);
      const next = await raw.request({
        jsonrpc: '2.0',
        id: 'next',
        method: 'tools/call',
        params: { name: longest, arguments: {} },
      });
      expect(next.error).toBeUndefined();
      expect(JSON.stringify(next.result)).toContain('is not in the tools/list');
      expect(JSON.stringify(next.result)).not.toContain('a tool name may be');
      expect(raw.receipts.records.at(-1)).toMatchObject({ tool: longest });
    } finally {
      await raw.close();
    }
  });
});

describe('every path is checked (issue 10: unchecked paths)', () => {
  it('attack: a tools/call sent as a notification never reaches the server, and is recorded', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      raw.send({
        jsonrpc: '2.0',
        method: 'tools/call',
        params: { name: 'echo', arguments: { sneaky: true } },
      });
      await eventually(() => raw.receipts.records.length === 1, 'the refusal receipt');
      await raw.request({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
      expect(toolCalls(raw.serverGot())).toEqual([]);
      expect(raw.receipts.records[0]).toMatchObject({
        tool: 'echo',
        outcome: 'denied',
        decision: { reason: expect.stringContaining('notification') },
      });
    } finally {
      await raw.close();
    }
  });

  it('attack: a resources/subscribe or resources/read sent as a notification never reaches the server, and is recorded', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      for (const method of ['resources/subscribe', 'resources/read'])
        raw.send({ jsonrpc: '2.0', method, params: { uri: 'file:///secret' } });
      await eventually(() => raw.receipts.records.length === 2, 'the refusal receipts');
      await raw.request({ jsonrpc: '2.0', id: 'ping', method: 'ping' });
      expect(raw.serverGot().filter((m) => String(m.method).startsWith('resources/'))).toEqual([]);
      expect(raw.receipts.records.map((record) => record.tool).sort()).toEqual([
        'client-notification:resources/read',
        'client-notification:resources/subscribe',
      ]);
      expect(raw.receipts.records[0]).toMatchObject({
        outcome: 'denied',
        decision: { reason: expect.stringContaining('sent as a notification (no id) is refused') },
      });
    } finally {
      await raw.close();
    }
  });

  it('attack: a server asks the client to sample under a policy that does not permit it: refused and recorded', async () => {
    const policy = new PolicyEngine(
      loadPolicies('@id("tools-only") permit(principal, action == Action::"tools/call", resource);'),
    );
    const raw = await rawHarness({ policy });
    let sampled = 0;
    raw.onServerRequest('sampling/createMessage', () => {
      sampled++;
      return { result: { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'm' } };
    });
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'sample' },
      });
      expect(sampled).toBe(0);
      expect(JSON.stringify(reply.result)).toContain('OACP refused sampling/createMessage');
      const refused = raw.receipts.records.find((r) => r.tool === 'server-request:sampling/createMessage');
      expect(refused).toMatchObject({ outcome: 'denied', decision: { effect: 'deny' } });
    } finally {
      await raw.close();
    }
  });

  it('attack: the Cedar policy cannot be built: a server request and a tool call are each a recorded deny naming why; the bridge keeps serving', async () => {
    let builds = 0;
    const raw = await rawHarness({
      policy: () => {
        builds++;
        throw new Error('injected: the policy build failed');
      },
      env: { RAW_ASK_ON_INIT: 'sampling/createMessage' },
    });
    let sampled = 0;
    raw.onServerRequest('sampling/createMessage', () => {
      sampled++;
      return { result: { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'm' } };
    });
    try {
      await initialized(raw);
      const refusedRequest = () =>
        raw
          .serverGot()
          .find((m) => JSON.stringify(m.error ?? '').includes('OACP refused sampling/createMessage'));
      await eventually(() => refusedRequest() !== undefined, 'the server told of the refusal');
      expect(JSON.stringify(refusedRequest())).toContain('the Cedar policy could not be built');
      expect(sampled).toBe(0);
      expect(
        raw.receipts.records.find((r) => r.tool === 'server-request:sampling/createMessage'),
      ).toMatchObject({
        outcome: 'denied',
        decision: { effect: 'deny', reason: expect.stringContaining('injected') },
      });
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 'after-build-failure',
        method: 'tools/call',
        params: { name: 'echo', arguments: { a: 1 } },
      });
      expect(reply.result).toMatchObject({ isError: true });
      expect(JSON.stringify(reply.result)).toContain('the Cedar policy could not be built');
      expect(toolCalls(raw.serverGot())).toEqual([]);
      expect(raw.receipts.records.find((r) => r.tool === 'echo')).toMatchObject({ outcome: 'denied' });
      // Built once: a failed build is not retried on every call.
      expect(builds).toBe(1);
    } finally {
      await raw.close();
    }
  });

  it('attack: a server sends the client a tools/call (a request only clients send) under a policy that permits tools/call: refused and recorded, never forwarded', async () => {
    const policy = new PolicyEngine(
      loadPolicies('@id("tools-only") permit(principal, action == Action::"tools/call", resource);'),
    );
    const raw = await rawHarness({ policy, env: { RAW_ASK_ON_INIT: 'tools/call' } });
    try {
      await initialized(raw);
      const refusal = () =>
        raw.serverGot().find((m) => JSON.stringify(m.error ?? '').includes('OACP refused tools/call'));
      await eventually(() => refusal() !== undefined, 'the server told of the refusal');
      expect(JSON.stringify(refusal())).toContain('only a client sends');
      expect(raw.received.some((m) => m.method === 'tools/call')).toBe(false);
      expect(raw.receipts.records.find((r) => r.tool === 'server-request:tools/call')).toMatchObject({
        outcome: 'denied',
        decision: { effect: 'deny' },
      });
    } finally {
      await raw.close();
    }
  });

  it('attack: a server request whose method is 100,000 characters (an imitation of sampling, or none) is refused with a receipt that fits the log (it had none: the receipt outgrew a log entry)', async () => {
    for (const method of [`sampling/createMessage${' '.repeat(100_000)}`, 'x'.repeat(100_000)]) {
      const raw = await rawHarness({ env: { RAW_ASK_ON_INIT: method } });
      try {
        await initialized(raw);
        const recorded = () => raw.receipts.records.find((r) => r.tool.startsWith('server-request:'));
        await eventually(() => recorded() !== undefined, 'the refusal recorded');
        expect(raw.events.some((e) => e.type === 'receipt-failed')).toBe(false);
        expect(raw.received.some((m) => typeof m.method === 'string' && m.method.length > 1000)).toBe(false);
        expect(recorded()).toMatchObject({ outcome: 'denied', decision: { effect: 'deny' } });
        const verified = await raw.receipts.verify(raw.receipts.refs[0]?.index ?? -1);
        expect(verified.ok).toBe(true);
        const predicate = verified.predicate as { tool: { name: string }; policy: { reason: string } };
        expect(predicate.tool.name).toMatch(/^server-request:.{217}…sha256:[0-9a-f]{16}$/su);
        expect(predicate.policy.reason.length).toBeLessThanOrEqual(2048);
        const reply = await raw.request({
          jsonrpc: '2.0',
          id: 'after',
          method: 'tools/call',
          params: { name: 'echo', arguments: {} },
        });
        expect(reply.result).toMatchObject({ _meta: { 'oacp/receipt': { index: 1 } } });
      } finally {
        await raw.close();
      }
    }
  });

  it('attack: a permitted server request the client never answers (the client leaves) still gets its receipt', async () => {
    const raw = await rawHarness({ env: { RAW_ASK_ON_INIT: 'sampling/createMessage' } });
    try {
      await initialized(raw);
      await eventually(
        () => raw.received.some((m) => m.method === 'sampling/createMessage'),
        'the client to be asked',
      );
      raw.endInput();
      await raw.closed;
      const recorded = raw.receipts.records.find((r) => r.tool === 'server-request:sampling/createMessage');
      expect(recorded).toMatchObject({
        outcome: 'server-gone',
        forwarded: true,
        decision: { effect: 'allow' },
      });
    } finally {
      await raw.close();
    }
  });

  it('attack: a permitted server request the server withdraws (notifications/cancelled) is recorded as cancelled', async () => {
    const raw = await rawHarness({ env: { RAW_ASK_ON_INIT: 'roots/list', RAW_CANCEL_ASK: '1' } });
    try {
      await initialized(raw);
      await eventually(
        () => raw.received.some((m) => m.method === 'notifications/cancelled'),
        'the client to hear of the cancel',
      );
      await eventually(
        () => raw.receipts.records.some((r) => r.tool === 'server-request:roots/list'),
        'the receipt of the withdrawn request',
      );
      expect(raw.receipts.records.find((r) => r.tool === 'server-request:roots/list')).toMatchObject({
        outcome: 'cancelled',
        forwarded: true,
        decision: { effect: 'allow' },
      });
      const asked = raw.received.find((m) => m.method === 'roots/list');
      const cancelled = raw.received.find((m) => m.method === 'notifications/cancelled');
      expect((cancelled?.params as { requestId?: unknown } | undefined)?.requestId).toBe(asked?.id);
    } finally {
      await raw.close();
    }
  });

  it('forwards a permitted server request (the default policy) and records it with the client answer digested', async () => {
    const raw = await rawHarness();
    const answer = { role: 'assistant', content: { type: 'text', text: 'hi' }, model: 'm' };
    raw.onServerRequest('sampling/createMessage', () => ({ result: answer }));
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 6,
        method: 'tools/call',
        params: { name: 'sample' },
      });
      expect(JSON.stringify(reply.result)).toContain('assistant');
      const recorded = raw.receipts.records.find((r) => r.tool === 'server-request:sampling/createMessage');
      expect(recorded).toMatchObject({ outcome: 'result', decision: { effect: 'allow' } });
      expect(recorded?.resultDigest).toBe(resultDigest(answer));
    } finally {
      await raw.close();
    }
  });
});

describe('receipts that state the call truly', () => {
  it('a tool the server never listed is not said to "match its pin": refused as unlisted before the pin step', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      await raw.request({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'hidden', arguments: {} },
      });
      const [record] = raw.receipts.records;
      expect(record?.checks.pin).toBeUndefined();
      expect(record?.checks.shape?.reason).toContain('tool "hidden" is not in the tools/list');
    } finally {
      await raw.close();
    }
  });

  it('a failing pin refresh is reported, not swallowed', async () => {
    const raw = await rawHarness({ env: { RAW_LIST_FAILS: '1' } });
    try {
      await initialized(raw);
      await eventually(
        () => raw.events.some((e) => e.type === 'pin-refresh-failed'),
        'a pin-refresh-failed event',
      );
      expect(raw.events.find((e) => e.type === 'pin-refresh-failed')).toMatchObject({
        reason: expect.stringContaining('listing is broken'),
      });
    } finally {
      await raw.close();
    }
  });

  it('the result digest is over exactly what the client receives, less the receipt reference', async () => {
    const raw = await rawHarness();
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/call',
        params: { name: 'echo', arguments: { a: 1 } },
      });
      const received = reply.result as Record<string, unknown>;
      expect(raw.receipts.records[0]?.resultDigest).toBe(resultDigest(received));
    } finally {
      await raw.close();
    }
  });
});

describe('no side effect without a receipt slot (issue 11 item 5)', () => {
  it('attack: the log cannot append (disk full): the call is refused and never reaches the server', async () => {
    const raw = await rawHarness();
    const reserve = () => {
      throw new Error('ENOSPC: no space left on device');
    };
    (raw.receipts as { reserve?: () => void }).reserve = reserve;
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name: 'echo', arguments: { write: 'file' } },
      });
      expect(JSON.stringify(reply)).toContain('no receipt can be written, so the call is refused');
      expect(toolCalls(raw.serverGot())).toEqual([]);
    } finally {
      await raw.close();
    }
  });
});

describe('a session that cannot be brought down', () => {
  it('attack: a hung upstream call meets the request deadline; the caller gets an error and a receipt records the timeout', async () => {
    const raw = await rawHarness({ requestTimeoutMs: 300 });
    try {
      await initialized(raw);
      const reply = await raw.request({
        jsonrpc: '2.0',
        id: 10,
        method: 'tools/call',
        params: { name: 'hang' },
      });
      expect(reply.error).toMatchObject({ code: -32001, data: { 'oacp/receipt': { index: 0 } } });
      expect(raw.receipts.records[0]).toMatchObject({ tool: 'hang', outcome: 'timeout' });
      // The cancellation is written to the server after the caller's error: the server logs it when it reads it.
      await eventually(
        () => raw.serverGot().some((m) => m.method === 'notifications/cancelled'),
        'the server to receive notifications/cancelled',
      );
    } finally {
      await raw.close();
    }
  });

  it('attack: a server that exits at start is restarted at most maxAttempts times, then requests are answered and the session ends', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const starts = join(mkdtempSync(join(tmpdir(), 'oacp-starts-')), 'starts');
    const { createBridge } = await import('../../src/mcp/bridge.js');
    const { serveStdio } = await import('../../src/mcp/stdio.js');
    const { lightUpstream, testReceipts } = await import('./helpers.js');
    const { RAW_SERVER } = await import('./raw-harness.js');
    const { PassThrough } = await import('node:stream');
    const receipts = await testReceipts();
    const events: string[] = [];
    const bridge = createBridge({
      upstream: lightUpstream('dies', [RAW_SERVER], { env: { RAW_EXIT_AT_START: '1', RAW_STARTS: starts } }),
      receipts,
      restart: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 4 },
      onEvent: (event) => events.push(event.type),
    });
    const input = new PassThrough();
    const output = new PassThrough();
    const lines: string[] = [];
    output.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    try {
      const session = await serveStdio(bridge, input, output);
      input.write(`${JSON.stringify(INITIALIZE)}\n`);
      input.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'list', method: 'tools/list' })}\n`);
      await session.closed;
      const count = readFileSync(starts, 'utf8').split('\n').filter(Boolean).length;
      expect(count).toBe(1 + 4);
      expect(events).toContain('upstream-gave-up');
      const answers = lines.map((line) => JSON.parse(line) as { id?: unknown; error?: unknown });
      expect(answers.find((a) => a.id === 'list')).toMatchObject({ error: { code: -32000 } });
      expect(answers.find((a) => a.id === 'init')).toHaveProperty('error');
    } finally {
      await bridge.close();
      await receipts.close();
    }
  });
});
