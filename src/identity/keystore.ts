import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import {
  generateEd25519,
  keySigner,
  privateKeyFromSeed,
  rawPrivateSeed,
  type Signer,
} from '../core/ed25519.js';
import { OacpError } from '../core/errors.js';
import { notOursReason } from '../core/not-ours.js';
import type { SecretValues } from '../core/secret-values.js';
import { parseAgentName } from './agent-name.js';
import { didKeyFromPublicKey } from './did-key.js';
import type { IdentityErrorCode } from './errors.js';
import { type HomeLayout, homeLayout, NODE_CONFIG_FILE } from './home-layout.js';
import { refuseOthersHome } from './home-owner.js';
import { registerOacpHome } from './home-registry.js';
import {
  loadMasterKey,
  MASTER_KEY_ENV,
  type MasterKey,
  type MasterKeySource,
  masterKeyTexts,
  parseMasterKeyEnv,
} from './master-key.js';
import { privateKeyTexts } from './private-key-texts.js';
import { type PublicKeyForms, publicKeyForms } from './public-key-forms.js';
import { type KeyKind, parseSealedKey, sealKey, unsealKey } from './sealed-key.js';
import { ensureSecretDir, writeSecretFile } from './secret-files.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface InitOptions {
  /** Where OACP_MASTER_KEY is looked up; when it is set no master.key file is written. */
  readonly env?: Env;
  /** Replace the keys of an existing home (and remove its agents, whose keys belong to the old home). */
  readonly force?: boolean;
  readonly now?: () => Date;
  /** The process's live secret values: every key this store holds registers its text forms here. */
  readonly secrets?: SecretValues;
}

export interface OpenOptions {
  readonly now?: () => Date;
  /**
   * The process's live secret values: the master key's text forms and those of
   * every private key this store decrypts (Airlock, log, each agent's as it is
   * loaded: privateKeyTexts) are registered here, so no log line, error answer
   * or receipt reason of the process shows one.
   */
  readonly secrets?: SecretValues;
}

/** An agent's public identity; listing agents never needs their private keys in memory for long. */
export interface AgentInfo {
  readonly name: string;
  readonly did: string;
  readonly publicKey: Uint8Array;
  readonly createdAt: string;
}

export interface AgentIdentity extends AgentInfo {
  readonly signer: Signer;
}

/**
 * The Ed25519 identities of one OACP home: the Airlock's receipt signer, the log's
 * checkpoint signer and one key per agent, each sealed at rest under the master
 * key. An instance holds what it decrypted; there is no process-wide key state.
 */
export class KeyStore {
  readonly #layout: HomeLayout;
  readonly #masterKey: MasterKey;
  readonly #airlock: Signer;
  readonly #log: Signer;
  readonly #now: () => Date;
  readonly #secrets: SecretValues | undefined;

  private constructor(
    layout: HomeLayout,
    masterKey: MasterKey,
    airlock: Signer,
    log: Signer,
    now: () => Date,
    secrets: SecretValues | undefined,
  ) {
    this.#layout = layout;
    this.#masterKey = masterKey;
    this.#airlock = airlock;
    this.#log = log;
    this.#now = now;
    this.#secrets = secrets;
  }

  /** Whether `home` already holds OACP keys (what `init` refuses to overwrite). */
  static isInitialized(home: string): boolean {
    const layout = homeLayout(home);
    return [layout.masterKey, layout.airlockKey, layout.logKey].some((path) => existsSync(path));
  }

  /** Creates a home: master key (unless OACP_MASTER_KEY is set), Airlock key, log key. */
  static async init(home: string, options: InitOptions = {}): Promise<KeyStore> {
    const layout = homeLayout(home);
    const env = options.env ?? process.env;
    const now = options.now ?? (() => new Date());
    const force = options.force === true;
    if (!force && KeyStore.isInitialized(home)) {
      throw new OacpError<IdentityErrorCode>(
        'IDENTITY_HOME_EXISTS',
        `an OACP home already exists at ${home}; refusing to overwrite its keys (use --force to replace them)`,
      );
    }
    // A malformed OACP_MASTER_KEY must fail before anything is written.
    const envKey = masterKeyFromEnv(env);
    refuseOthersHome(home);
    refuseSharedFolder(home);
    refuseForeignFolder(layout);
    try {
      ensureSecretDir(layout.home);
      ensureSecretDir(layout.keysDir);
      ensureSecretDir(layout.agentsDir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === 'EEXIST' || code === 'ENOTDIR'
          ? 'a file is in the way of its folders'
          : (code ?? 'unusable');
      throw new OacpError<IdentityErrorCode>(
        'IDENTITY_HOME_UNUSABLE',
        `cannot create an OACP home at ${home} (${why}); give --home (or OACP_HOME) a folder`,
      );
    }
    // Recorded before any key exists, so every later sandbox on this host guards it, even one
    // whose invocation names another home (a gateway's OACP_HOME=/srv/oacp beside an operator's
    // ~/.oacp), and whoever made it: the CLI's `oacp init` or a program using the library.
    registerOacpHome(home);
    const masterKey = envKey ?? createMasterKeyFile(layout, force);
    options.secrets?.pin(masterKeyTexts(masterKey.bytes));
    const write = (kind: KeyKind, path: string): Signer => {
      const { signer, seed } = freshKey(kind, options.secrets);
      const sealed = sealKey(masterKey.bytes, {
        kind,
        name: kind,
        publicKey: signer.publicKey,
        seed,
        createdAt: now().toISOString(),
      });
      seed.fill(0);
      writeSecretFile(path, `${JSON.stringify(sealed, null, 2)}\n`, { exclusive: !force });
      return signer;
    };
    const airlock = write('airlock', layout.airlockKey);
    const log = write('log', layout.logKey);
    if (force) removeAgentFiles(layout);
    return new KeyStore(layout, masterKey, airlock, log, now, options.secrets);
  }

  /** Opens an existing home; the Airlock and log keys are decrypted now, so a wrong master key fails here. */
  static open(home: string, env: Env = process.env, options: OpenOptions = {}): KeyStore {
    const layout = homeLayout(home);
    refuseOthersHome(home);
    if (!keyFileThere(layout.airlockKey, home)) {
      throw new OacpError<IdentityErrorCode>(
        'IDENTITY_HOME_MISSING',
        `no OACP home at ${home} (keys/airlock.json is missing); run \`oacp init\` first`,
      );
    }
    const masterKey = loadMasterKey(layout.masterKey, env);
    options.secrets?.pin(masterKeyTexts(masterKey.bytes));
    const airlock = loadKey(masterKey, layout.airlockKey, 'airlock', 'airlock', options.secrets).signer;
    const log = loadKey(masterKey, layout.logKey, 'log', 'log', options.secrets).signer;
    return new KeyStore(layout, masterKey, airlock, log, options.now ?? (() => new Date()), options.secrets);
  }

  get home(): string {
    return this.#layout.home;
  }

  get masterKeySource(): MasterKeySource {
    return this.#masterKey.source;
  }

  /** The master key's text forms (masterKeyTexts), to register with a SecretValues; never to print. */
  masterKeyTexts(): string[] {
    return masterKeyTexts(this.#masterKey.bytes);
  }

  /** Signs receipts (DSSE envelopes). */
  airlockSigner(): Signer {
    return this.#airlock;
  }

  /** Signs transparency-log checkpoints. */
  logSigner(): Signer {
    return this.#log;
  }

  publicKeys(): { readonly airlock: PublicKeyForms; readonly log: PublicKeyForms } {
    return { airlock: publicKeyForms(this.#airlock.publicKey), log: publicKeyForms(this.#log.publicKey) };
  }

  /** The receipt signer's public key as SPKI PEM (`oacp keys export --format pem`). */
  airlockPublicKeyPem(): string {
    return publicKeyForms(this.#airlock.publicKey).pem;
  }

  createAgent(name: string): AgentIdentity {
    const agentName = parseAgentName(name);
    const path = this.#layout.agentKey(agentName);
    const { signer, seed } = freshKey('agent', this.#secrets);
    const did = didKeyFromPublicKey(signer.publicKey);
    const createdAt = this.#now().toISOString();
    const sealed = sealKey(this.#masterKey.bytes, {
      kind: 'agent',
      name: agentName,
      publicKey: signer.publicKey,
      seed,
      did,
      createdAt,
    });
    seed.fill(0);
    ensureSecretDir(this.#layout.agentsDir);
    try {
      writeSecretFile(path, `${JSON.stringify(sealed, null, 2)}\n`, { exclusive: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new OacpError<IdentityErrorCode>(
          'IDENTITY_AGENT_EXISTS',
          `an agent named "${agentName}" already exists; pick another name`,
        );
      }
      throw error;
    }
    return { name: agentName, did, publicKey: signer.publicKey, createdAt, signer };
  }

  hasAgent(name: string): boolean {
    return existsSync(this.#layout.agentKey(parseAgentName(name)));
  }

  /** Loads and decrypts one agent's key; the file is authenticated against its name and public key. */
  agent(name: string): AgentIdentity {
    const agentName = parseAgentName(name);
    const loaded = loadKey(
      this.#masterKey,
      this.#layout.agentKey(agentName),
      'agent',
      agentName,
      this.#secrets,
    );
    const did = didKeyFromPublicKey(loaded.signer.publicKey);
    if (loaded.did !== did) {
      throw new OacpError<IdentityErrorCode>(
        'IDENTITY_KEY_FILE_TAMPERED',
        `agents/${agentName}.json names a did that is not its own key's did:key`,
      );
    }
    return {
      name: agentName,
      did,
      publicKey: loaded.signer.publicKey,
      createdAt: loaded.createdAt,
      signer: loaded.signer,
    };
  }

  /** Every agent, sorted by name; each file is authenticated, so a tampered one makes this throw naming it. */
  listAgents(): AgentInfo[] {
    if (!existsSync(this.#layout.agentsDir)) return [];
    return readdirSync(this.#layout.agentsDir)
      .filter((file) => /^[a-z0-9][a-z0-9_-]{0,63}\.json$/.test(file))
      .map((file) => file.slice(0, -'.json'.length))
      .sort()
      .map((name) => {
        const { signer: _signer, ...info } = this.agent(name);
        return info;
      });
  }
}

function masterKeyFromEnv(env: Env): MasterKey | undefined {
  const fromEnv = env[MASTER_KEY_ENV];
  return fromEnv === undefined || fromEnv === ''
    ? undefined
    : { bytes: parseMasterKeyEnv(fromEnv), source: 'env' };
}

function createMasterKeyFile(layout: HomeLayout, force: boolean): MasterKey {
  const bytes = new Uint8Array(randomBytes(32));
  writeSecretFile(layout.masterKey, bytes, { exclusive: !force });
  return { bytes, source: 'file' };
}

/**
 * Registers a private key's text forms: the node's own keys (Airlock, log) pinned, never
 * forgotten; an agent's in the bounded tier, as agents grow with use (SecretValues).
 */
function registerKeyTexts(kind: KeyKind, seed: Uint8Array, secrets: SecretValues | undefined): void {
  if (kind === 'agent') secrets?.add(privateKeyTexts(seed));
  else secrets?.pin(privateKeyTexts(seed));
}

function freshKey(kind: KeyKind, secrets: SecretValues | undefined): { signer: Signer; seed: Uint8Array } {
  const { privateKey } = generateEd25519();
  const seed = rawPrivateSeed(privateKey);
  registerKeyTexts(kind, seed, secrets);
  return { signer: keySigner(privateKey), seed };
}

function loadKey(
  masterKey: MasterKey,
  path: string,
  kind: KeyKind,
  name: string,
  secrets: SecretValues | undefined,
): { signer: Signer; did: string | undefined; createdAt: string } {
  const where = kind === 'agent' ? `agents/${name}.json` : `keys/${kind}.json`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw kind === 'agent'
        ? new OacpError<IdentityErrorCode>(
            'IDENTITY_AGENT_NOT_FOUND',
            `no agent named "${name}"; create it with \`oacp agent create ${name}\``,
          )
        : new OacpError<IdentityErrorCode>(
            'IDENTITY_HOME_MISSING',
            `${where} is missing from the OACP home; run \`oacp init\``,
          );
    }
    const notOurs = notOursReason(path, error);
    if (notOurs !== undefined) throw new OacpError<IdentityErrorCode>('IDENTITY_HOME_NOT_OURS', notOurs);
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_KEY_FILE_INVALID',
      `cannot read ${where}: ${(error as Error).message}`,
    );
  }
  const sealed = parseSealedKey(text, where);
  const seed = unsealKey(masterKey.bytes, sealed, { kind, name }, where);
  let privateKey: ReturnType<typeof privateKeyFromSeed>;
  try {
    privateKey = privateKeyFromSeed(seed);
    registerKeyTexts(kind, seed, secrets);
  } finally {
    seed.fill(0);
  }
  const signer = keySigner(privateKey);
  // The AAD already binds the public key; this guards against a file sealed with a mismatched pair.
  if (Buffer.compare(Buffer.from(signer.publicKey), Buffer.from(sealed.publicKey, 'base64')) !== 0) {
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_KEY_FILE_TAMPERED',
      `${where}: the private key does not match its public key`,
    );
  }
  return { signer, did: sealed.did, createdAt: sealed.createdAt };
}

function removeAgentFiles(layout: HomeLayout): void {
  for (const file of readdirSync(layout.agentsDir)) {
    if (/^[a-z0-9][a-z0-9_-]{0,63}\.json$/.test(file)) rmSync(`${layout.agentsDir}/${file}`, { force: true });
  }
}

/** What `init` itself puts in a home; a folder holding only these is a home (or a half-made one). */
const HOME_ENTRIES: ReadonlySet<string> = new Set(['master.key', 'keys', 'agents', NODE_CONFIG_FILE]);

/**
 * A folder of other files (/etc, a project folder) is never made a home, even with --force: init
 * would chmod it 0700, and --force must replace keys, not take over someone else's folder.
 */
function refuseForeignFolder(layout: HomeLayout): void {
  if (KeyStore.isInitialized(layout.home)) return;
  let entries: string[];
  try {
    entries = readdirSync(layout.home);
  } catch {
    return;
  }
  const foreign = entries.filter((entry) => !HOME_ENTRIES.has(entry)).sort();
  if (foreign.length === 0) return;
  const shown = foreign.length > 3 ? `${foreign.slice(0, 3).join(', ')}, ...` : foreign.join(', ');
  throw new OacpError<IdentityErrorCode>(
    'IDENTITY_HOME_UNUSABLE',
    `cannot make ${layout.home} an OACP home: it holds other files (${shown}), and init would make it 0700; give --home (or OACP_HOME) a new or empty folder`,
  );
}

/**
 * A folder every account may write (/tmp, a 1777 drop folder) is never made a home: init would
 * chmod it 0700 and lock every other user out of it, and until then anyone could plant files there.
 */
function refuseSharedFolder(home: string): void {
  let mode: number;
  try {
    const stats = statSync(home);
    if (!stats.isDirectory()) return;
    mode = stats.mode;
  } catch {
    return;
  }
  if ((mode & 0o002) !== 0) {
    throw new OacpError<IdentityErrorCode>(
      'IDENTITY_HOME_UNUSABLE',
      `cannot make ${home} an OACP home: every account may write it (mode ${(mode & 0o7777).toString(8)}), and init would lock them out; give --home (or OACP_HOME) a folder of your own`,
    );
  }
}

/**
 * Whether the home's key file is there; one this uid may not look at (a home
 * root made, run by uid 1000) is refused naming its owner, not called missing
 * (with the advice to run `oacp init` on a home that has keys).
 */
function keyFileThere(path: string, home: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    const notOurs = notOursReason(path, error, home);
    if (notOurs !== undefined) throw new OacpError<IdentityErrorCode>('IDENTITY_HOME_NOT_OURS', notOurs);
    return false;
  }
}
