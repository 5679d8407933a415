import type { Command } from 'commander';
import { isOacpError } from '../../core/errors.js';
import type { ApiKeys } from '../../gateway/apikeys/api-keys.js';
import { API_SCOPES, type ApiScope } from '../../gateway/apikeys/scopes.js';
import type { Store } from '../../store/types.js';
import { CliExit } from '../io.js';
import type { CliContext } from '../program.js';
import { collect } from './shared.js';

interface StoreFlag {
  store?: string;
}

/**
 * `oacp keys create|list|revoke`: the gateway's API keys, in the store the
 * gateway uses (`--store`, default <home>/gateway.db). `create` prints the
 * key once (only its salted hash is stored), e.g. a narrow console key:
 * `oacp keys create --scope audit:read,approvals:decide --name console`.
 */
export function registerApiKeyCommands(keys: Command, context: CliContext): void {
  keys
    .command('create')
    .description('create a gateway API key with the given scopes; the key is printed once')
    .requiredOption(
      '--scope <list>',
      `scopes, comma-separated; repeatable (${API_SCOPES.join(', ')})`,
      collect,
      [],
    )
    .option('--name <label>', 'a label to tell the key by (1-100 printable ASCII characters)')
    .option(
      '--store <location>',
      'the gateway store: SQLite file or postgres:// URL (default: <home>/gateway.db)',
    )
    .action(async (options: StoreFlag & { scope: string[]; name?: string }, command: Command) => {
      const scopes = parseScopeFlag(options.scope);
      await withStore(context, command, options, async (store) => {
        const keys = await apiKeys(store);
        let created: Awaited<ReturnType<ApiKeys['create']>>;
        try {
          created = await keys.create({
            scopes,
            ...(options.name === undefined ? {} : { label: options.name }),
          });
        } catch (error) {
          if (isOacpError(error) && error.code === 'APIKEY_LABEL_INVALID')
            throw new CliExit(`--name: ${error.message}`, 2);
          throw error;
        }
        context.output.err(
          `created API key ${created.id} (${created.scopes.join(', ')}${created.label === null ? '' : `, "${created.label}"`}); it is shown once, only its hash is kept:`,
        );
        context.output.out(created.key);
      });
    });

  keys
    .command('list')
    .description("list the gateway's API keys (ids, scopes, labels; never the secrets)")
    .option('--store <location>', 'the gateway store (default: <home>/gateway.db)')
    .action(async (options: StoreFlag, command: Command) => {
      await withStore(context, command, options, async (store) => {
        for (const key of await (await apiKeys(store)).list()) {
          const state = key.revokedAt === null ? 'live' : `revoked ${key.revokedAt}`;
          context.output.out(
            `${key.id}  ${state}  ${key.scopes.join(',')}  ${key.label ?? '-'}${key.agentId === null ? '' : `  agent ${key.agentId}`}`,
          );
        }
      });
    });

  keys
    .command('revoke <id>')
    .description('revoke a gateway API key by its id (the 16 hex digits after oacp_)')
    .option('--store <location>', 'the gateway store (default: <home>/gateway.db)')
    .action(async (id: string, options: StoreFlag, command: Command) => {
      if (!/^[0-9a-f]{16}$/.test(id))
        throw new CliExit(`<id>: 16 hex digits (oacp keys list), not ${JSON.stringify(id)}`, 2);
      await withStore(context, command, options, async (store) => {
        if (!(await (await apiKeys(store)).revoke(id))) throw new CliExit(`no live API key ${id}`, 1);
        context.output.out(`revoked API key ${id}`);
      });
    });
}

/** `--scope a,b --scope c` as scopes; an unknown one is refused naming the valid ones. */
export function parseScopeFlag(values: readonly string[]): ApiScope[] {
  const scopes = values
    .flatMap((value) => value.split(','))
    .map((scope) => scope.trim())
    .filter((scope) => scope !== '');
  if (scopes.length === 0) throw new CliExit(`--scope: give at least one of ${API_SCOPES.join(', ')}`, 2);
  const known: readonly string[] = API_SCOPES;
  const unknown = scopes.filter((scope) => !known.includes(scope));
  if (unknown.length > 0)
    throw new CliExit(
      `--scope: unknown scope ${unknown.map((scope) => JSON.stringify(scope)).join(', ')}; valid scopes: ${API_SCOPES.join(', ')}`,
      2,
    );
  return [...new Set(scopes as ApiScope[])];
}

/** Loaded when a key command runs, so other commands start without the store's driver. */
async function apiKeys(store: Store): Promise<ApiKeys> {
  const { ApiKeys } = await import('../../gateway/apikeys/api-keys.js');
  return new ApiKeys({ store });
}

async function withStore(
  context: CliContext,
  command: Command,
  options: StoreFlag,
  use: (store: Store) => Promise<void>,
): Promise<void> {
  const { defaultStorePath } = await import('../../store/open-store.js');
  const { openRecordedStore } = await import('../../store/store-identity.js');
  const { storeFileExists } = await import('../../store/store-file.js');
  const exists = (path: string, home: string) => {
    try {
      return storeFileExists(path, home);
    } catch (error) {
      throw new CliExit(`--store: ${error instanceof Error ? error.message : String(error)}`, 2);
    }
  };
  const { redactUrl } = await import('../../store/redact.js');
  const home = context.home(command);
  const location = options.store ?? defaultStorePath(home);
  if (!location.includes('://') && !exists(location.replace(/^sqlite:/, ''), home))
    throw new CliExit(
      `--store: no gateway store at ${location} (the first \`oacp gateway\` creates it, with its admin key; or give --store)`,
      2,
    );
  let store: Store;
  try {
    // Through the home's record, as a gateway's start: a key made in, or revoked from, a store
    // deleted or replaced while no gateway ran would be a key for a store the home does not use.
    store = await openRecordedStore(home, location);
  } catch (error) {
    // Exit 1 with its code, as the gateway and the bridge refuse it.
    if (isOacpError(error) && error.code === 'STORE_REPLACED') throw error;
    throw new CliExit(
      `--store: cannot open ${redactUrl(location)}: ${error instanceof Error ? error.message : String(error)}`,
      2,
    );
  }
  try {
    await use(store);
  } finally {
    await store.close();
  }
}
