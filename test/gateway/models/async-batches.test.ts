import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchObject } from '../../../src/gateway/models/batch-jobs.js';
import { batchStore } from '../../../src/gateway/models/batch-store.js';
import { startGateway, type TestGateway } from '../service/harness.js';
import { batchProvider, modelAgent, modelsConfig, putProviderKey } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const KEY = 'sk-standin-async-secret-0123456789';

interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; body: Record<string, unknown> };
  error: { message: string } | null;
  oacp_receipt: number | null;
}

describe('asynchronous batches in OpenAI shape, driven by the official openai SDK', () => {
  let gpt: StandIn;
  let gw: TestGateway;
  let dir: string;

  const start = (store: string) =>
    startGateway({
      store,
      config: modelsConfig({
        providers: [batchProvider('gpt', gpt.url, 'openai', ['gpt-test'])],
        budgets: { tokens_per_hour: 2000 },
        batch_poll_ms: 20,
        batches_per_agent: 3,
        file_bytes_per_agent: 1024 * 1024,
      }),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oacp-async-batches-'));
    gpt = await startStandIn('gpt');
    gw = await start(join(dir, 'store.db'));
    await putProviderKey(gw, 'gpt', KEY);
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await gpt?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function sdkFor(name: string): Promise<{ sdk: OpenAI; agentId: string; key: string }> {
    const { agentId, key } = await modelAgent(gw, name, ['gpt-test']);
    return { sdk: new OpenAI({ apiKey: key, baseURL: `${gw.url}v1`, maxRetries: 0 }), agentId, key };
  }

  // The items come inline (`requests`): the SDK sends the body as given, so it works unchanged.
  const create = (sdk: OpenAI, count: number, maxTokens: number) =>
    sdk.batches.create({
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      requests: Array.from({ length: count }, (_, i) => ({
        custom_id: `q${i}`,
        body: {
          model: 'gpt-test',
          messages: [{ role: 'user', content: `question ${i}` }],
          max_tokens: maxTokens,
        },
      })),
    } as unknown as OpenAI.Batches.BatchCreateParams) as unknown as Promise<BatchObject>;

  async function ended(sdk: OpenAI, id: string): Promise<OpenAI.Batches.Batch> {
    for (;;) {
      const batch = await sdk.batches.retrieve(id);
      if (['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) return batch;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const lines = async (sdk: OpenAI, fileId: string): Promise<OutputLine[]> =>
    (await (await sdk.files.content(fileId)).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as OutputLine);

  it('answers at once with the batch object, runs it in the gateway, and serves one result line per item with its receipt', async () => {
    const { sdk } = await sdkFor('async-batcher');
    gpt.holdBatches(true);
    const created = await create(sdk, 3, 5);
    // Created while the provider's batch cannot have ended: the answer did not wait for it.
    expect(created).toMatchObject({
      object: 'batch',
      status: 'in_progress',
      endpoint: '/v1/chat/completions',
      request_counts: { total: 3, completed: 0, failed: 0 },
      output_file_id: null,
    });
    expect(created.id).toMatch(/^batch_[0-9a-f]{24}$/);
    gpt.holdBatches(false);
    const done = await ended(sdk, created.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    expect(done.output_file_id).toBe(`file-output-${created.id}`);
    const output = await lines(sdk, done.output_file_id ?? '');
    expect(output.map((line) => [line.id, line.custom_id, line.response.status_code, line.error])).toEqual([
      [`${created.id}_item_0`, 'q0', 200, null],
      [`${created.id}_item_1`, 'q1', 200, null],
      [`${created.id}_item_2`, 'q2', 200, null],
    ]);
    expect(output[0]?.response.body).toMatchObject({
      object: 'chat.completion',
      usage: { completion_tokens: 5 },
    });
    const receipts = output.map((line) => line.oacp_receipt);
    expect(new Set(receipts).size).toBe(3);
    expect(receipts.every((r) => Number.isInteger(r) && (r ?? -1) < gw.gateway.services.log.size)).toBe(true);
  });

  it('attack: six batches created at the same instant cannot pass models.batches_per_agent (3) together: the count and the insert are one step', async () => {
    const { sdk, agentId } = await sdkFor('racing-batcher');
    gpt.holdBatches(true);
    try {
      const attempts = await Promise.allSettled(Array.from({ length: 6 }, () => create(sdk, 1, 5)));
      const created = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
      const refused = attempts.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
      expect(created).toHaveLength(3);
      expect(refused).toHaveLength(3);
      for (const error of refused) {
        expect(error).toBeInstanceOf(OpenAI.RateLimitError);
        expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('oacp-quota')).toBe(
          'models.batches_per_agent',
        );
      }
      expect(await batchStore(gw.gateway.store.sql).running(agentId)).toBe(3);
      for (const batch of created) {
        await sdk.batches.cancel(batch.id);
        await ended(sdk, batch.id);
      }
    } finally {
      gpt.holdBatches(false);
    }
  });

  it("lists the agent's own batches newest first, paged as client.batches.list pages them (after, limit)", async () => {
    const { sdk, key } = await sdkFor('listing-batcher');
    const other = await sdkFor('listing-stranger');
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      made.push((await create(sdk, 1, 5)).id);
      // Distinct creation times, so "newest first" is one order.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const id of made) await ended(sdk, id);
    const first = await sdk.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([made[2], made[1]]);
    expect(first.hasNextPage()).toBe(true);
    const second = await first.getNextPage();
    expect(second.data.map((b) => b.id)).toEqual([made[0]]);
    expect(second.hasNextPage()).toBe(false);
    // The SDK's auto-pagination walks every page.
    const all: string[] = [];
    for await (const batch of sdk.batches.list({ limit: 1 })) all.push(batch.id);
    expect(all).toEqual([...made].reverse());
    // Another agent sees none of them, not even by naming one as its cursor.
    expect((await other.sdk.batches.list()).data).toEqual([]);
    expect((await other.sdk.batches.list({ after: made[2] ?? '' })).data).toEqual([]);
    // A bad page size is a 400 naming the field.
    for (const limit of ['0', '101', 'x']) {
      const response = await fetch(`${gw.url}v1/batches?limit=${limit}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/limit: expected a whole number from 1 to 100/);
    }
  });

  it('caps the batches an agent runs at once (429) and the file bytes it keeps (413), naming the config field', async () => {
    const { sdk } = await sdkFor('capped-batcher');
    gpt.holdBatches(true);
    try {
      const submissions = () =>
        gpt.batchCalls.filter((c) => c.method === 'POST' && c.path === '/v1/batches').length;
      const before = submissions();
      const running = [await create(sdk, 1, 5), await create(sdk, 1, 5), await create(sdk, 1, 5)];
      while (submissions() < before + 3) await new Promise((resolve) => setTimeout(resolve, 10));
      const error = await create(sdk, 1, 5).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('oacp-quota')).toBe(
        'models.batches_per_agent',
      );
      expect(String((error as Error).message)).toMatch(
        /models\.batches_per_agent: you have 3 batches running, the limit is 3/,
      );
      expect(submissions()).toBe(before + 3);
      // One ended (cancelled) leaves room for the next.
      await sdk.batches.cancel(running[0]?.id ?? '');
      await ended(sdk, running[0]?.id ?? '');
      const next = await create(sdk, 1, 5);
      for (const batch of [running[1], running[2], next]) {
        await sdk.batches.cancel(batch?.id ?? '');
        await ended(sdk, batch?.id ?? '');
      }
    } finally {
      gpt.holdBatches(false);
    }
    // Two files of ~600 KB: the second would pass the 1 MiB kept per agent.
    const line = (i: number) =>
      JSON.stringify({
        custom_id: `big${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-test', messages: [{ role: 'user', content: 'x'.repeat(6000) }], max_tokens: 5 },
      });
    const big = Array.from({ length: 100 }, (_, i) => line(i)).join('\n');
    await upload(sdk, big);
    const full = await upload(sdk, big).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(OpenAI.APIError);
    expect((full as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect(String((full as Error).message)).toMatch(/models\.file_bytes_per_agent: this file/);
    // Another agent's room is its own.
    await upload((await sdkFor('uncapped-uploader')).sdk, big);
  });

  it('refuses a batch that does not fit the budget: 429 naming the quota, nothing sent, no batch made', async () => {
    const { sdk } = await sdkFor('greedy-batcher');
    const calls = gpt.batchCalls.length;
    const received = gpt.received.length;
    const error = await create(sdk, 10, 500).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('oacp-quota')).toBe(
      'models.budgets.tokens_per_hour',
    );
    expect(gpt.batchCalls.length).toBe(calls);
    expect(gpt.received.length).toBe(received);
  });

  const jsonl = (count: number, url = '/v1/chat/completions', extra: object = {}) =>
    Array.from({ length: count }, (_, i) =>
      JSON.stringify({
        custom_id: `f${i}`,
        method: 'POST',
        url,
        body: { model: 'gpt-test', messages: [{ role: 'user', content: `from a file ${i}` }], max_tokens: 5 },
        ...extra,
      }),
    ).join('\n');
  const upload = (sdk: OpenAI, text: string, purpose = 'batch') =>
    sdk.files.create({ file: new File([text], 'input.jsonl'), purpose: purpose as 'batch' });

  it('takes its items from an uploaded file: client.files.create, then client.batches.create with input_file_id', async () => {
    const { sdk } = await sdkFor('file-batcher');
    const file = await upload(sdk, `${jsonl(2)}\n`);
    expect(file).toMatchObject({
      object: 'file',
      purpose: 'batch',
      status: 'processed',
      filename: 'input.jsonl',
    });
    expect(file.id).toMatch(/^file-[0-9a-f]{24}$/);
    expect((await sdk.files.retrieve(file.id)).bytes).toBe(file.bytes);
    const created = await sdk.batches.create({
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      input_file_id: file.id,
    });
    expect(created).toMatchObject({ input_file_id: file.id, request_counts: { total: 2 } });
    const done = await ended(sdk, created.id);
    expect(done).toMatchObject({
      status: 'completed',
      request_counts: { total: 2, completed: 2, failed: 0 },
    });
    const output = await lines(sdk, done.output_file_id ?? '');
    expect(output.map((line) => [line.custom_id, line.response.status_code])).toEqual([
      ['f0', 200],
      ['f1', 200],
    ]);
    expect(await (await sdk.files.content(file.id)).text()).toBe(`${jsonl(2)}\n`);
  });

  it('refuses a bad upload, or a batch naming a file it cannot use, with a 400 naming the field', async () => {
    const owner = await sdkFor('file-owner');
    const other = await sdkFor('file-stranger');
    const file = await upload(owner.sdk, jsonl(1));
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => upload(owner.sdk, jsonl(1), 'assistants'), /purpose: expected "batch"/],
      [() => upload(owner.sdk, `${jsonl(1)}\nnot json`), /file: line 2/],
      [() => upload(owner.sdk, jsonl(1, '/v1/completions')), /file: line 1: url: expected \/v1\/chat/],
      [
        () => upload(owner.sdk, `${jsonl(1)}\n${jsonl(1, '/v1/embeddings')}`),
        /file: line 2: .*one endpoint a file/,
      ],
      [() => upload(owner.sdk, jsonl(1, '/v1/chat/completions', { method: 'GET' })), /file: line 1: method/],
      [() => upload(owner.sdk, jsonl(1001)), /file: the file has 1001 lines; a batch holds at most 1000/],
      [() => upload(owner.sdk, ''), /file: the file has no requests/],
      [
        () =>
          other.sdk.batches.create({
            endpoint: '/v1/chat/completions',
            completion_window: '24h',
            input_file_id: file.id,
          }),
        /input_file_id: file .* is not one of your uploaded batch files/,
      ],
      [
        () =>
          owner.sdk.batches.create({
            endpoint: '/v1/embeddings',
            completion_window: '24h',
            input_file_id: file.id,
          }),
        /input_file_id: file .* holds requests for \/v1\/chat\/completions/,
      ],
      [
        () =>
          owner.sdk.batches.create({
            endpoint: '/v1/chat/completions',
            completion_window: '24h',
            input_file_id: file.id,
            requests: [{ custom_id: 'x', body: {} }],
          } as never),
        /input_file_id: give the items inline as `requests` or upload them/,
      ],
      [
        () =>
          owner.sdk.batches.create({ endpoint: '/v1/chat/completions', completion_window: '24h' } as never),
        /input_file_id: give the items inline/,
      ],
    ];
    for (const [attempt, message] of cases) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(String((error as Error).message)).toMatch(message);
      expect(String((error as Error).message)).not.toMatch(/\n|at .*\.ts/);
    }
    // Not a form, a form without a file part, a file over the body limit: each refused, naming what to fix.
    const post = (body: string | FormData, type?: string) =>
      fetch(`${gw.url}v1/files`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${owner.key}`,
          ...(type === undefined ? {} : { 'content-type': type }),
        },
        body,
      });
    const notForm = await post(JSON.stringify({ purpose: 'batch' }), 'application/json');
    expect(notForm.status).toBe(400);
    expect(await notForm.text()).toMatch(/file: upload the file as multipart\/form-data/);
    const noFile = new FormData();
    noFile.set('purpose', 'batch');
    noFile.set('file', 'just a string');
    const stringPart = await post(noFile);
    expect(stringPart.status).toBe(400);
    expect(await stringPart.text()).toMatch(/file: expected a file part/);
    const huge = new FormData();
    huge.set('purpose', 'batch');
    huge.set('file', new File(['x'.repeat(2 * 1024 * 1024)], 'big.jsonl'));
    expect((await post(huge)).status).toBe(413);
    // Another agent's file is not found, and neither its content.
    for (const attempt of [() => other.sdk.files.retrieve(file.id), () => other.sdk.files.content(file.id)]) {
      expect(await attempt().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.NotFoundError);
    }
    // A file is not a batch.
    expect(await owner.sdk.batches.retrieve(file.id).catch((e: unknown) => e)).toBeInstanceOf(
      OpenAI.NotFoundError,
    );
  });

  it('refuses a malformed batch with one line naming the field, and an operator key', async () => {
    const { sdk } = await sdkFor('sloppy-async');
    for (const [body, field] of [
      [
        {
          endpoint: '/v1/chat/completions',
          completion_window: '1h',
          requests: [{ custom_id: 'a', body: { model: 'gpt-test' } }],
        },
        'completion_window',
      ],
      [{ endpoint: '/v1/completions', requests: [{ custom_id: 'a', body: {} }] }, 'endpoint'],
      [{ endpoint: '/v1/chat/completions', requests: [{ custom_id: 'a', body: 'x' }] }, 'requests.0.body'],
    ] as const) {
      const error = await sdk.batches.create(body as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(String((error as Error).message)).toContain(field);
      expect(String((error as Error).message)).not.toMatch(/\n|at .*\.ts/);
    }
    const operator = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}v1`, maxRetries: 0 });
    const error = await operator.batches.retrieve('batch_x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it("an unknown id, and another agent's batch, are not found: retrieve, cancel, results", async () => {
    const owner = await sdkFor('owner-batcher');
    const other = await sdkFor('other-batcher');
    const created = await create(owner.sdk, 1, 5);
    const done = await ended(owner.sdk, created.id);
    expect(done.status).toBe('completed');
    for (const attempt of [
      () => owner.sdk.batches.retrieve('batch_000000000000000000000000'),
      () => other.sdk.batches.retrieve(created.id),
      () => other.sdk.batches.cancel(created.id),
      () => other.sdk.files.content(done.output_file_id ?? ''),
      () => owner.sdk.files.content('file-output-batch_000000000000000000000000'),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    }
  });

  it("cancels a running batch: the provider's batch is cancelled, its items fail, a finished batch cannot be cancelled", async () => {
    const { sdk } = await sdkFor('cancel-batcher');
    gpt.holdBatches(true);
    try {
      const before = gpt.batchCalls.filter((c) => c.method === 'POST' && c.path === '/v1/batches').length;
      const created = await create(sdk, 2, 5);
      // Wait for the gateway to hand the items to the provider's batch API.
      while (gpt.batchCalls.filter((c) => c.method === 'POST' && c.path === '/v1/batches').length === before)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const cancelling = await sdk.batches.cancel(created.id);
      expect(['cancelling', 'cancelled']).toContain(cancelling.status);
      const done = await ended(sdk, created.id);
      expect(done.status).toBe('cancelled');
      expect(done.request_counts).toEqual({ total: 2, completed: 0, failed: 2 });
      expect(
        gpt.batchCalls.some((c) => c.method === 'POST' && /^\/v1\/batches\/[^/]+\/cancel$/.test(c.path)),
      ).toBe(true);
      const output = await lines(sdk, done.output_file_id ?? '');
      expect(output.map((line) => [line.custom_id, line.response.status_code])).toEqual([
        ['q0', 502],
        ['q1', 502],
      ]);
      const again = await sdk.batches.cancel(created.id).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(OpenAI.BadRequestError);
      expect(String((again as Error).message)).toMatch(/nothing to cancel/);
    } finally {
      gpt.holdBatches(false);
    }
  });

  it('a batch this node was running when it stopped is marked failed, with the reason, at the next start', async () => {
    const { agentId } = await sdkFor('crashed-batcher');
    // What a killed gateway leaves: a row still in progress (a clean close ends its batches as cancelled).
    const store = batchStore(gw.gateway.store.sql);
    const object = {
      id: 'batch_crashed',
      object: 'batch',
      endpoint: '/v1/chat/completions',
      status: 'in_progress',
      request_counts: { total: 1 },
    };
    await store.insert({
      id: 'batch_crashed',
      agentId,
      node: 'local',
      status: 'in_progress',
      batch: JSON.stringify(object),
      results: null,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    });
    await gw.close();
    gw = await start(join(dir, 'store.db'));
    const row = await batchStore(gw.gateway.store.sql).get(agentId, 'batch_crashed');
    expect(row?.status).toBe('failed');
    const failed = JSON.parse(row?.batch ?? '{}') as BatchObject;
    expect(failed).toMatchObject({ status: 'failed', errors: { data: [{ code: 'gateway_restarted' }] } });
    // The failure is receipted: a model call of this agent, failed, with the reason.
    const index = Number(/\(receipt (\d+)\)$/.exec(failed.errors?.data[0]?.message ?? '')?.[1]);
    expect(Number.isInteger(index)).toBe(true);
    const { parseEnvelopeBytes } = await import('../../../src/attest/receipt.js');
    const envelope = parseEnvelopeBytes(await gw.gateway.services.log.entry(index));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement.predicate).toMatchObject({
      agent: { did: agentId },
      outcome: 'failed',
      reason: expect.stringContaining('the gateway stopped while this batch ran'),
    });
  });
});
