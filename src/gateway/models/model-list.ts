import type { ModelsSection } from './config.js';
import { modelNames } from './router.js';

/** `GET /v1/models` in OpenAI's format: the aliases and listed models of OpenAI-compatible providers. */
export function openAiModelList(config: ModelsSection): unknown {
  return {
    object: 'list',
    data: modelNames(config, 'openai').map((id) => ({ id, object: 'model', created: 0, owned_by: 'oacp' })),
  };
}

/** `GET /v1/models` in Anthropic's format (asked with an anthropic-version header). */
export function anthropicModelList(config: ModelsSection): unknown {
  const data = modelNames(config, 'anthropic').map((id) => ({
    type: 'model',
    id,
    display_name: id,
    created_at: '1970-01-01T00:00:00Z',
  }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
