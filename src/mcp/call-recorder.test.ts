import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../core/jcs.js';
import { type ActiveCall, callRecorder, toRecord } from './call-recorder.js';
import type { ReceiptSink, ToolCallRecord } from './record.js';

/** A sink that keeps what it is given: intents and receipts. */
function keepingSink(withIntents: boolean) {
  const intents: ToolCallRecord[] = [];
  const receipts: ToolCallRecord[] = [];
  const sink: ReceiptSink = {
    record: async (call) => {
      receipts.push(call);
      return { index: receipts.length - 1, log: 'test.invalid/log' };
    },
    ...(withIntents ? { intend: (call: ToolCallRecord) => void intents.push(call) } : {}),
  };
  return { sink, intents, receipts };
}

/** Arguments whose canonical form can be counted: JCS applies toJSON once per canonicalization. */
function countedArguments() {
  const counted = {
    canonicalized: 0,
    toJSON() {
      counted.canonicalized++;
      return { path: '/tmp/a', lines: [1, 2, 3] };
    },
  };
  return counted;
}

function activeCall(args: unknown): ActiveCall {
  return {
    callId: 'call-1',
    server: { name: 'fs' },
    tier: 'light',
    agent: 'client:test',
    tool: 'read',
    upstreamTool: 'read',
    toolDefinitionDigest: jcsDigest({ name: 'read' }),
    policyDigest: jcsDigest(''),
    decision: { effect: 'allow', reason: 'permitted' },
    checks: {},
    arguments: args,
    startedAt: new Date(),
    startedMs: performance.now(),
  };
}

describe('callRecorder', () => {
  const digest = jcsDigest({ path: '/tmp/a', lines: [1, 2, 3] });

  it('digests a forwarded call’s arguments once, for its intent, and its receipt carries the same digest', async () => {
    const { sink, intents, receipts } = keepingSink(true);
    const recorder = callRecorder(sink);
    const args = countedArguments();
    const call = activeCall(args);
    recorder.intend?.(call);
    await recorder.finish({ call, outcome: 'result', result: { content: [] } }, undefined);
    expect(args.canonicalized).toBe(1);
    expect(intents.map((record) => [record.outcome, record.argumentsDigest])).toEqual([
      ['interrupted', digest],
    ]);
    expect(receipts.map((record) => [record.outcome, record.argumentsDigest])).toEqual([['result', digest]]);
  });

  it('digests the arguments of a call that had no intent (refused, or nothing keeps intents) at its receipt', async () => {
    const refused = keepingSink(true);
    const args = countedArguments();
    await callRecorder(refused.sink).finish({ call: activeCall(args), outcome: 'denied' }, undefined);
    expect(args.canonicalized).toBe(1);
    expect(refused.receipts[0]?.argumentsDigest).toBe(digest);

    const noIntents = keepingSink(false);
    const recorder = callRecorder(noIntents.sink);
    const call = activeCall(countedArguments());
    recorder.intend?.(call);
    await recorder.finish({ call, outcome: 'result', result: { content: [] } }, undefined);
    expect(noIntents.receipts[0]?.argumentsDigest).toBe(digest);
    expect((call.arguments as { canonicalized: number }).canonicalized).toBe(1);
  });

  it('a copy of a call (its decision replaced) is digested afresh, never given another call’s digest', async () => {
    const { sink, receipts } = keepingSink(true);
    const recorder = callRecorder(sink);
    const call = activeCall(countedArguments());
    recorder.intend?.(call);
    const other = { ...call, arguments: { path: '/etc/shadow' } };
    await recorder.finish({ call: other, outcome: 'denied' }, undefined);
    expect(receipts[0]?.argumentsDigest).toBe(jcsDigest({ path: '/etc/shadow' }));
  });

  it('a record holds every member of its call but the arguments, the start as a Date and the usage at the start, in order, and what the end adds', () => {
    const call = {
      ...activeCall({ path: '/tmp/a' }),
      client: { name: 'cli', version: '1' },
      usageAtStart: {
        wallMs: 0,
        cpuMs: 1,
        memoryPeakBytes: 10,
        egressRequests: 0,
        egressDenied: 0,
        outputBytes: 5,
      },
    };
    const usage = {
      wallMs: 9,
      cpuMs: 4,
      memoryPeakBytes: 20,
      egressRequests: 1,
      egressDenied: 0,
      outputBytes: 9,
    };
    const result = toRecord(
      { call, outcome: 'result', forwarded: true, result: { content: [], isError: true } },
      usage,
    );
    const members = [
      ...['callId', 'server', 'tier', 'agent', 'tool', 'upstreamTool', 'toolDefinitionDigest'],
      ...['policyDigest', 'decision', 'checks', 'client', 'argumentsDigest', 'outcome', 'forwarded'],
      ...['startedAt', 'durationMs', 'usage', 'resultDigest', 'isError'],
    ];
    expect(Object.keys(result)).toEqual(members);
    expect(result.startedAt).toBe(call.startedAt.toISOString());
    expect(result.usage).toMatchObject({ cpuMs: 3, egressRequests: 1, outputBytes: 4, memoryPeakBytes: 20 });
    expect(result.isError).toBe(true);
    expect(result.client).toBe(call.client);

    const failed = toRecord({ call, outcome: 'error', error: { code: -1, message: 'no' } }, undefined);
    expect(Object.keys(failed)).toEqual([
      ...members.slice(0, members.indexOf('forwarded')),
      'startedAt',
      'durationMs',
      'error',
    ]);
  });
});
