import { aliasFor, type ModelsSection, type ProviderConfig } from './config.js';
import type { ProviderKind } from './dialect.js';

/** Where a request goes: the upstream model name and the providers to try, in order. */
export interface Route {
  /** What the agent asked for (a model or an alias). */
  readonly requested: string;
  /** What is sent upstream. */
  readonly model: string;
  readonly providers: readonly ProviderConfig[];
  /** The providers' wire format: the request's own, or the other one when an alias points there (translated). */
  readonly kind: ProviderKind;
}

/**
 * An alias names its upstream model and providers (all of one wire format,
 * which may be the other one: the gateway then translates); any other model goes to
 * every provider of the request's wire format that serves it (a provider with
 * no `models` list serves any), in configuration order. None: undefined.
 */
export function routeFor(config: ModelsSection, kind: ProviderKind, requested: string): Route | undefined {
  const alias = aliasFor(config, requested);
  if (alias !== undefined) {
    const providers = alias.providers.flatMap((name) => config.providers.filter((p) => p.name === name));
    const target = providers[0]?.kind;
    if (target === undefined || providers.some((provider) => provider.kind !== target)) return undefined;
    return { requested, model: alias.model, providers, kind: target };
  }
  const providers = config.providers.filter(
    (provider) =>
      provider.kind === kind && (provider.models.length === 0 || provider.models.includes(requested)),
  );
  return providers.length === 0 ? undefined : { requested, model: requested, providers, kind };
}

/** The names a client may ask for under one wire format: aliases (of either format) and listed models. */
export function modelNames(config: ModelsSection, kind: ProviderKind): string[] {
  // An alias of either format can be asked for in this one (chat is translated across formats).
  const aliases = Object.keys(config.aliases).filter((name) => routeFor(config, kind, name) !== undefined);
  const listed = config.providers.filter((p) => p.kind === kind).flatMap((p) => p.models);
  return [...new Set([...aliases, ...listed])].sort();
}
