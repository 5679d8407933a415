import type { ModelsGrant } from '../../capability/manifest.js';
import { decideModel } from '../../capability/name-policy.js';
import type { ModelsSection } from './config.js';
import { modelNames } from './router.js';

/**
 * The names a caller may call: a model its manifest's `capabilities.models` refuses is not listed
 * (the list showed every configured model and alias to every agent). The global Cedar policies
 * still decide each call; the list is the manifest's view, not a promise that a call is allowed.
 */
function callable(config: ModelsSection, kind: 'openai' | 'anthropic', grant: ModelsGrant): string[] {
  return modelNames(config, kind).filter((id) => decideModel(grant, id).effect === 'allow');
}

/** `GET /v1/models` in OpenAI's format: the aliases and listed models of OpenAI-compatible providers the caller may call. */
export function openAiModelList(config: ModelsSection, grant: ModelsGrant): unknown {
  return {
    object: 'list',
    data: callable(config, 'openai', grant).map((id) => ({
      id,
      object: 'model',
      created: 0,
      owned_by: 'oacp',
    })),
  };
}

/** `GET /v1/models` in Anthropic's format (asked with an anthropic-version header). */
export function anthropicModelList(config: ModelsSection, grant: ModelsGrant): unknown {
  const data = callable(config, 'anthropic', grant).map((id) => ({
    type: 'model',
    id,
    display_name: id,
    created_at: '1970-01-01T00:00:00Z',
  }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
