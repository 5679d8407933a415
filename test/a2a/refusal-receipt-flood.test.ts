import { randomUUID } from 'node:crypto';
import { UnauthenticatedUser, type User } from '@a2a-js/sdk/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { A2aSecurityEvent } from '../../src/a2a/agent.js';
import { A2A_MESSAGE_TOOL, A2A_SUPPRESSED_TOOL } from '../../src/a2a/inbound-calls.js';
import { manualClock } from '../../src/airlock/quota/clock.js';
import { parseGatewayConfig } from '../../src/gateway/config/load.js';
import { ReceiptRecorder } from '../../src/gateway/runtime/receipt-recorder.js';
import { A2A_POST_HEADERS, serveEmbedded, startNode, type TestNode } from './harness.js';

const LIMIT = 1024 * 1024;
const TOO_DEEP = 'OACP_MESSAGE_LIMITS: the request body nests more than 64 levels deep (the limit)';
const TOO_LARGE = `OACP_MESSAGE_LIMITS: request bodies are limited to ${LIMIT} bytes`;

/**
 * Issue 10: every refusal of unauthenticated A2A input (a body over the size or nesting limit,
 * params that are not a message, an unsigned or badly signed message, an unknown task id) was a
 * signed, fsynced log entry, so anyone on the network could grow the transparency log and spend
 * the node's signing CPU as fast as they could send. Such receipts are now limited per client
 * address and overall (a2a.refusal_receipts); past the limits the refusal is answered the same
 * and summed up once per agent and minute.
 */
describe('A2A at the gateway: a flood of refusals from one client', () => {
  let node: TestNode;
  const PER_SOURCE = 5;

  beforeAll(async () => {
    node = await startNode([], {
      refusal_receipts: { per_source_per_minute: PER_SOURCE, overall_per_minute: 50 },
    });
    await node.agent('alice');
  });
  afterAll(async () => node?.close());

  it('attack: 5,000 too-deep and oversized posts leave at most the per-source receipts, and every answer stays right', async () => {
    const size = node.gateway.node.log.size;
    const started = Date.now();
    const deep = `{"jsonrpc":"2.0","id":7,"method":"SendMessage","params":{"message":{"messageId":"m1","role":"ROLE_USER","parts":[{"data":${'['.repeat(100)}${']'.repeat(100)}}]}}}`;
    const large = `{"jsonrpc":"2.0","id":7,"method":"SendMessage","params":{"message":{"messageId":"m1","role":"ROLE_USER","parts":[{"text":"${'x'.repeat(LIMIT)}"}]}}}`;
    const answers: string[] = [];
    const post = async (n: number) => {
      const oversized = n % 100 === 0;
      const response = await fetch(`${node.url}/a2a/alice`, {
        method: 'POST',
        headers: A2A_POST_HEADERS,
        body: oversized ? large : deep,
      });
      expect(response.status).toBe(200);
      const answer = (await response.json()) as { id: unknown; error: { code: number; message: string } };
      expect(answer.id).toBeNull();
      expect(answer.error.code).toBe(-32046);
      const message = answer.error.message.replace(/ \(receipt #\d+\)$/, '');
      expect(message).toBe(oversized ? TOO_LARGE : TOO_DEEP);
      answers.push(answer.error.message);
    };
    const TOTAL = 5_000;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < TOTAL) await post(next++);
      }),
    );
    expect(answers).toHaveLength(TOTAL);
    // The documented bound: the burst, plus what the bucket refills while the flood lasts.
    const bound = PER_SOURCE + Math.ceil(((Date.now() - started) / 60_000) * PER_SOURCE);
    const written = node.gateway.node.log.size - size;
    expect(written).toBeGreaterThanOrEqual(PER_SOURCE);
    expect(written).toBeLessThanOrEqual(bound + 1);
    const receipted = answers.filter((text) => / \(receipt #\d+\)$/.test(text));
    expect(receipted.length).toBeLessThanOrEqual(bound);
    for (let index = size; index < size + receipted.length; index++) {
      expect((await node.predicateAt(index)).tool.name).toBe(A2A_MESSAGE_TOOL);
    }
    // Every refusal is still counted; its warning line is limited as its receipt is (refusal-warnings.ts).
    const logged = node.events.filter((event) => event.type === 'malformed_request').length;
    expect(logged).toBeGreaterThanOrEqual(PER_SOURCE);
    expect(logged).toBeLessThanOrEqual(bound);
    const counted = Number(
      /oacp_security_events_total\{[^}]*a2a_malformed_request[^}]*\} (\d+)/.exec(
        node.gateway.services.metrics.registry.render(),
      )?.[1],
    );
    expect(counted).toBeGreaterThanOrEqual(TOTAL);
    // The agent still answers its card: the flood cost answers, not the node.
    expect((await fetch(`${node.url}/a2a/alice/.well-known/agent-card.json`)).status).toBe(200);
  }, 240_000);
});

describe('a2a.refusal_receipts in oacp.yaml', () => {
  it('defaults to 30 per source and 300 overall per minute', () => {
    expect(parseGatewayConfig({}, '/tmp').a2a.refusal_receipts).toEqual({
      per_source_per_minute: 30,
      overall_per_minute: 300,
    });
  });

  it('refuses a limit that is not a positive integer, naming the field', () => {
    expect(() =>
      parseGatewayConfig({ a2a: { refusal_receipts: { per_source_per_minute: 0 } } }, '/tmp'),
    ).toThrow(/a2a\.refusal_receipts\.per_source_per_minute/);
  });
});

/** A caller the embedding server authenticated by its bearer token. */
const ANN: User = { isAuthenticated: true, userName: 'ann' };

describe('A2A: refusal receipts past the limits, with the clock in hand', () => {
  let node: TestNode;
  let origin = '';
  const clock = manualClock(Date.now());
  const events: A2aSecurityEvent[] = [];
  let close: () => Promise<void> = async () => undefined;
  let flush: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    node = await startNode();
    await node.agent('alice');
    const receipts = new ReceiptRecorder(node.gateway.node, node.gateway.services.metrics);
    const embedded = await serveEmbedded(node, {
      user: (request) =>
        request.headers.get('authorization') === 'Bearer token-ann' ? ANN : new UnauthenticatedUser(),
      receipts: {
        reserve: () => receipts.reserve(),
        record: (record) => receipts.toolCall(record, record.agent),
      },
      refusalReceipts: { perSourcePerMinute: 2, overallPerMinute: 100 },
      onSecurityEvent: (event) => events.push(event),
      now: clock.now,
    });
    ({ origin, close } = embedded);
    flush = embedded.a2a.flushRefusals;
  }, 60_000);
  afterAll(async () => {
    await close();
    await node?.close();
  });

  /** An unsigned message (signatures are required): refused at the identity step. */
  const unsigned = (token?: string) =>
    fetch(`${origin}/a2a/alice`, {
      method: 'POST',
      headers: { ...A2A_POST_HEADERS, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'SendMessage',
        params: { message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text: 'hi' }] } },
      }),
    }).then((response) => response.json() as Promise<{ error: { code: number; message: string } }>);
  const getTask = (token?: string) =>
    fetch(`${origin}/a2a/alice`, {
      method: 'POST',
      headers: { ...A2A_POST_HEADERS, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'GetTask', params: { id: randomUUID() } }),
    }).then((response) => response.json() as Promise<{ error: { code: number; message: string } }>);

  it("an authenticated caller's refusals are never suppressed; an anonymous one's are, past the limit, and then summed up once", async () => {
    const log = node.gateway.node.log;
    let size = log.size;
    for (let i = 0; i < 10; i++) {
      expect((await unsigned('token-ann')).error.message).toMatch(
        /OACP_SIGNATURE_REQUIRED.*\(receipt #\d+\)$/,
      );
      expect((await getTask('token-ann')).error.code).toBe(-32001);
    }
    expect(log.size - size).toBe(20);

    size = log.size;
    const first = await unsigned();
    for (let i = 0; i < 9; i++) {
      const answer = await unsigned();
      expect(answer.error.code).toBe(first.error.code);
      expect(answer.error.message.replace(/ \(receipt #\d+\)$/, '')).toBe(
        first.error.message.replace(/ \(receipt #\d+\)$/, ''),
      );
      expect((await getTask()).error.code).toBe(-32001);
    }
    // Two for the anonymous caller (its burst), 17 answered without one of their own.
    expect(log.size - size).toBe(2);
    expect(events.filter((event) => event.type === 'refusals_suppressed')).toEqual([]);

    // A minute on, the next refusal sums up the window first: one receipt, and the operator's event.
    clock.advance(60_000);
    size = log.size;
    expect((await unsigned()).error.message).toMatch(/\(receipt #\d+\)$/);
    await expect.poll(() => log.size - size).toBe(2);
    const predicates = [await node.predicateAt(size), await node.predicateAt(size + 1)];
    const summary = predicates.find((predicate) => predicate.tool.name === A2A_SUPPRESSED_TOOL);
    expect(summary?.policy.effect).toBe('deny');
    expect(summary?.policy.reason).toMatch(
      /^17 unauthenticated refusals from 1 source were answered without a receipt/,
    );
    // The public receipt does not name the address; the operator's event does.
    expect(summary?.policy.reason).not.toContain('127.0.0.1');
    expect(events.filter((event) => event.type === 'refusals_suppressed')).toEqual([
      expect.objectContaining({ agent: 'alice', reason: expect.stringContaining('127.0.0.1 (17)') }),
    ]);
  }, 120_000);

  it('on close, the refusals counted in a window not yet over are summed up before the log closes', async () => {
    const log = node.gateway.node.log;
    clock.advance(60_000);
    // The burst of 2 again, then 3 answered without a receipt.
    for (let i = 0; i < 5; i++) await getTask();
    const size = log.size;
    await flush();
    expect(log.size).toBe(size + 1);
    expect((await node.predicateAt(size)).policy.reason).toMatch(
      /^3 unauthenticated refusals from 1 source /,
    );
  });
});
