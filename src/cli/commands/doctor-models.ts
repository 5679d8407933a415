import type { SecretValues } from '../../core/secret-values.js';
import type { GatewayConfig } from '../../gateway/config/schema.js';
import { CredentialVault, MODEL_PROVIDER_KEYS } from '../../gateway/credentials/credential-vault.js';
import type { ProviderConfig } from '../../gateway/models/config.js';
import type { ProviderSecrets } from '../../gateway/models/dispatch.js';
import { type ProviderProbe, probeProvider } from '../../gateway/models/provider-health.js';
import { Providers } from '../../gateway/models/providers.js';
import { homeLayout } from '../../identity/home-layout.js';
import { loadMasterKey } from '../../identity/master-key.js';
import { defaultStorePath } from '../../store/open-store.js';
import { storeFileExists } from '../../store/store-file.js';
import { openRecordedStore } from '../../store/store-identity.js';
import type { Store } from '../../store/types.js';

export interface DoctorProvider {
  readonly name: string;
  readonly kind: ProviderConfig['kind'];
  /** The base URL's origin only (a path or query is not the doctor's business). */
  readonly origin: string;
  readonly probe: ProviderProbe;
}

export interface DoctorModels {
  /** Where the keys the probes sent came from, or why none were sent. */
  readonly keys: string;
  readonly providers: DoctorProvider[];
}

/**
 * The model providers of an oacp.yaml, each probed as the gateway would reach
 * it (its models list, with the vault's key when the home's vault opens): no
 * tokens spent. Breaker state and the last error class live in a running
 * gateway: `GET /v1/oacp/models/health` and `oacp_llm_breaker_open`.
 */
export async function doctorModels(
  config: GatewayConfig,
  home: string,
  env: NodeJS.ProcessEnv,
  /** The CLI's live secret values: the provider keys the vault hands out are registered, so no printed line shows one. */
  secrets?: SecretValues,
): Promise<DoctorModels> {
  const providers = new Providers(config.models);
  let store: Store | undefined;
  let keys = 'from the vault of this home';
  let secretsFor: (provider: ProviderConfig) => Promise<ProviderSecrets | undefined> = async () => undefined;
  try {
    const path = config.gateway.store ?? defaultStorePath(home);
    if (!path.includes('://') && !storeFileExists(path, home)) throw new Error(`no store at ${path}`);
    const masterKey = loadMasterKey(homeLayout(home).masterKey, env).bytes;
    // A replaced store's vault is not this home's: its keys are not sent (STORE_REPLACED says why).
    store = await openRecordedStore(home, path, { record: false });
    const vault = new CredentialVault({ store, masterKey, ...(secrets === undefined ? {} : { secrets }) });
    secretsFor = (provider) => vault.resolveForCall(MODEL_PROVIDER_KEYS, `models/${provider.name}`);
  } catch (error) {
    // Reachability is still worth knowing without the keys; say why they were not sent.
    keys = `not sent: the vault did not open (${error instanceof Error ? error.message.slice(0, 200) : 'unknown'})`;
  }
  try {
    const probes = await Promise.all(
      config.models.providers.map(async (provider) => ({
        name: provider.name,
        kind: provider.kind,
        origin: new URL(provider.base_url).origin,
        probe: await probeProvider(
          provider,
          providers.get(provider.name).client,
          await secretsFor(provider).catch(() => undefined),
        ),
      })),
    );
    return { keys, providers: probes };
  } finally {
    await providers.close();
    await store?.close();
  }
}
