import { describe, expect, it } from 'vitest';
import { jcsDigest } from '../core/jcs.js';
import { type ActiveCall, callRecorder } from './call-recorder.js';
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
});
