import { randomUUID } from 'node:crypto';
import { type BatchApi, BatchApiError, type BatchItemResult, batchHttp, jsonLines } from './batch-api.js';
import type { ProviderSecrets } from './dispatch.js';
import type { ProviderClient } from './upstream.js';

const ENDED = new Set(['completed', 'failed', 'expired', 'cancelled']);

/**
 * OpenAI's Batch API: the requests uploaded as a JSONL file (`POST /files`,
 * purpose `batch`), a batch made of it (`POST /batches`), polled
 * (`GET /batches/{id}`), and its output and error files read
 * (`GET /files/{id}/content`).
 */
export function openAiBatchApi(client: ProviderClient, secrets: ProviderSecrets): BatchApi {
  const http = batchHttp(client, secrets, {});
  return {
    async submit(items, signal) {
      const endpoint = `/v1${items[0]?.path ?? '/chat/completions'}`;
      const jsonl = items
        .map((item) =>
          JSON.stringify({
            custom_id: item.id,
            method: 'POST',
            url: `/v1${item.path}`,
            body: JSON.parse(item.body),
          }),
        )
        .join('\n');
      const boundary = `oacp-${randomUUID()}`;
      const multipart = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="oacp-batch.jsonl"\r\n` +
          `Content-Type: application/jsonl\r\n\r\n${jsonl}\n\r\n--${boundary}--\r\n`,
      );
      const file = JSON.parse(
        (
          await http.raw('POST', '/files', signal, {
            type: `multipart/form-data; boundary=${boundary}`,
            bytes: multipart,
          })
        ).toString('utf8'),
      ) as { id?: unknown };
      if (typeof file.id !== 'string') throw new BatchApiError('POST /files answered no file id');
      const batch = await http.json('POST', '/batches', signal, {
        input_file_id: file.id,
        endpoint,
        completion_window: '24h',
      });
      if (typeof batch.id !== 'string') throw new BatchApiError('POST /batches answered no batch id');
      return batch.id;
    },
    async poll(id, signal) {
      const batch = await http.json('GET', `/batches/${encodeURIComponent(id)}`, signal);
      const status = String(batch.status);
      if (!ENDED.has(status)) return { ended: false };
      return status === 'completed'
        ? { ended: true }
        : { ended: true, failed: `the provider's batch is ${status}` };
    },
    async results(id, signal) {
      const batch = await http.json('GET', `/batches/${encodeURIComponent(id)}`, signal);
      const out = new Map<string, BatchItemResult>();
      for (const field of ['output_file_id', 'error_file_id'] as const) {
        const file = batch[field];
        if (typeof file !== 'string') continue;
        const bytes = await http.raw('GET', `/files/${encodeURIComponent(file)}/content`, signal);
        for (const line of jsonLines(bytes)) {
          if (typeof line.custom_id !== 'string') continue;
          const response = line.response as { status_code?: unknown; body?: unknown } | null | undefined;
          if (response && typeof response.status_code === 'number')
            out.set(line.custom_id, { status: response.status_code, body: response.body });
          else
            out.set(line.custom_id, {
              error: 'the provider answered this item with an error and no response',
            });
        }
      }
      return out;
    },
    async cancel(id) {
      await http
        .json('POST', `/batches/${encodeURIComponent(id)}/cancel`, AbortSignal.timeout(10_000))
        .catch(() => undefined);
    },
  };
}
