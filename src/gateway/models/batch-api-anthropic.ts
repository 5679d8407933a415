import { type BatchApi, BatchApiError, type BatchItemResult, batchHttp, jsonLines } from './batch-api.js';
import type { ProviderSecrets } from './dispatch.js';
import type { ProviderClient } from './upstream.js';

const RESULT_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  rate_limit_error: 429,
  overloaded_error: 529,
};

/**
 * Anthropic's Message Batches API: `POST /v1/messages/batches` with the
 * requests inline, polled (`GET /v1/messages/batches/{id}`) until its
 * processing_status is `ended`, results read as JSONL
 * (`GET /v1/messages/batches/{id}/results`).
 */
export function anthropicBatchApi(client: ProviderClient, secrets: ProviderSecrets): BatchApi {
  const http = batchHttp(client, secrets, { 'anthropic-version': '2023-06-01' });
  return {
    async submit(items, signal) {
      const batch = await http.json('POST', '/v1/messages/batches', signal, {
        requests: items.map((item) => ({ custom_id: item.id, params: JSON.parse(item.body) })),
      });
      if (typeof batch.id !== 'string')
        throw new BatchApiError('POST /v1/messages/batches answered no batch id');
      return batch.id;
    },
    async poll(id, signal) {
      const batch = await http.json('GET', `/v1/messages/batches/${encodeURIComponent(id)}`, signal);
      return batch.processing_status === 'ended' ? { ended: true } : { ended: false };
    },
    async results(id, signal) {
      const bytes = await http.raw('GET', `/v1/messages/batches/${encodeURIComponent(id)}/results`, signal);
      const out = new Map<string, BatchItemResult>();
      for (const line of jsonLines(bytes)) {
        if (typeof line.custom_id !== 'string') continue;
        const result = (line.result ?? {}) as { type?: unknown; message?: unknown; error?: unknown };
        if (result.type === 'succeeded') out.set(line.custom_id, { status: 200, body: result.message });
        else if (result.type === 'errored') {
          const error = (result.error ?? {}) as { error?: { type?: unknown } };
          out.set(line.custom_id, {
            status: RESULT_STATUS[String(error.error?.type)] ?? 500,
            body: result.error,
          });
        } else out.set(line.custom_id, { error: `the provider's batch ${String(result.type)} this item` });
      }
      return out;
    },
    async cancel(id) {
      await http
        .json('POST', `/v1/messages/batches/${encodeURIComponent(id)}/cancel`, AbortSignal.timeout(10_000))
        .catch(() => undefined);
    },
  };
}
