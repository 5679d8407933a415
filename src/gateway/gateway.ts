import { join } from 'node:path';
import type { Hono } from 'hono';
import { gatewayA2aServer } from '../a2a/mount.js';
import { RELAYED_BASE_HEADER } from '../a2a/server.js';
import { StoreTaskStore } from '../a2a/task-store.js';
import { startBucketPruner } from '../airlock/quota/bucket-pruner.js';
import type { RefusalReceiptLimits } from '../airlock/quota/refusal-limit.js';
import { StoreQuotaEngine } from '../airlock/quota/store-engine.js';
import { StandardTier, type StandardTierOptions } from '../airlock/wasm/standard-tier.js';
import { DERIVED_KEY_LABELS, derivedKeyTexts, derivedSeed } from '../cluster/derived-key.js';
import { type ClusterTls, loadClusterTls, nodeKeyTls } from '../cluster/tls.js';
import { nodeWitnessSigner, witnessVerifierKey } from '../cluster/witness-key.js';
import { sha256Hex } from '../core/digest.js';
import { hostGuardFor } from '../core/loopback.js';
import { SecretValues } from '../core/secret-values.js';
import { homeLayout } from '../identity/home-layout.js';
import { loadMasterKey } from '../identity/master-key.js';
import { ApprovalSpool, approvalSpoolDir } from '../mcp/approval-remote.js';
import { defaultPolicyEngine } from '../mcp/default-policy.js';
import { missingConfigFileGrants } from '../mcp/missing-grants.js';
import { ReceiptSlot } from '../mcp/receipt-slot.js';
import { unreadCutLog } from '../mcp/unread-cut-log.js';
import { describeRecovery, describeTornTailCut } from '../node/intent-journal.js';
import { logDirectory, OacpNode, type OacpNodeOptions } from '../node/oacp-node.js';
import type { PolicyEngine } from '../policy/engine.js';
import { defaultStorePath } from '../store/open-store.js';
import { openRecordedStore } from '../store/store-identity.js';
import type { Store } from '../store/types.js';
import { AgentRegistry } from './agents/agent-registry.js';
import { ceilingManifest, manifestTrustFrom } from './agents/manifest-trust.js';
import { ApiKeys } from './apikeys/api-keys.js';
import { loadGatewayConfig, parseGatewayConfig } from './config/load.js';
import { mcpRunOptionsFor } from './config/mcp-options.js';
import { agentQuotaDefaults, gatewayQuotaOptionsFrom } from './config/quotas-section.js';
import type { GatewayConfig } from './config/schema.js';
import { CredentialVault, MODEL_PROVIDER_KEYS } from './credentials/credential-vault.js';
import { createApp } from './http/app.js';
import { Authenticator } from './http/auth.js';
import { listenForCluster } from './http/cluster-listen.js';
import type { GatewayEnv } from './http/env.js';
import { refusalOf, toHttpFailure } from './http/errors.js';
import { forwardOrAwaitOwner, hopsOf } from './http/forward.js';
import { type Listening, listen, parseListen } from './http/listen.js';
import type { DeclaredRoute } from './http/route.js';
import { open } from './http/route.js';
import { memberLogPaths } from './http/routes-cluster.js';
import type { GatewayServices } from './http/services.js';
import { BATCH_DIALECTS, batchParts } from './models/batch.js';
import { batchFileStore } from './models/batch-file-store.js';
import { BatchFiles } from './models/batch-files.js';
import { batchItemStore } from './models/batch-item-store.js';
import { ModelBatches } from './models/batch-jobs.js';
import { startBatchPruner } from './models/batch-pruner.js';
import { receiptsOfBatch } from './models/batch-receipts.js';
import { batchStore } from './models/batch-store.js';
import { ModelBudget } from './models/budget.js';
import { modelCallerFor } from './models/caller.js';
import { ModelGateway } from './models/model-gateway.js';
import { ProviderKeys } from './models/provider-keys.js';
import { Providers } from './models/providers.js';
import { sandboxChat } from './models/sandbox-chat.js';
import { loadTokenizer } from './models/tokens.js';
import { GatewayMetrics } from './observability/gateway-metrics.js';
import { type Logger, stderrLogger } from './observability/logger.js';
import { Tracing, type TracingOptions } from './observability/tracing.js';
import { a2aInboundChecks } from './runtime/a2a-checks.js';
import type { AgentDirectory } from './runtime/agent-directory.js';
import { AgentRuntime, type AgentRuntimeEvent } from './runtime/agent-runtime.js';
import { GatewayApprovalQueue } from './runtime/approval-queue.js';
import { bridgedSource } from './runtime/bridged-source.js';
import { vaultContext } from './runtime/context-access.js';
import type { NativeTool, ToolAttributes } from './runtime/define-tool.js';
import type { EgressFetchOptions } from './runtime/egress-fetch.js';
import { GatewayCluster } from './runtime/gateway-cluster.js';
import { startGatewayGossip } from './runtime/gateway-gossip.js';
import { GatewayPolicy } from './runtime/policy/gateway-policy.js';
import { loadGlobalPolicies, loadGlobalPolicyFiles } from './runtime/policy/load.js';
import { DEFAULT_GLOBAL_POLICY } from './runtime/policy/schema.js';
import { type GatewayQuotaOptions, GatewayQuotas } from './runtime/quotas.js';
import { ReceiptRecorder } from './runtime/receipt-recorder.js';
import { refusalWarnings } from './runtime/refusal-warnings.js';
import { registryDirectory } from './runtime/registry-directory.js';
import { ToolCaller } from './runtime/tool-caller.js';
import { ToolRegistry } from './runtime/tool-registry.js';
import { TransferKey } from './runtime/transfer-key.js';
import { UnauthenticatedToolCalls } from './runtime/unauthenticated-call.js';
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from './runtime/watchdog.js';
import { openGatewayNonceStore } from './store-nonce-store.js';
import { ContextVault } from './vault/context-vault.js';

export interface GatewayOptions {
  /** The OACP home (`oacp init`): keys, log, store and nonce cache live here. */
  readonly home: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** A parsed oacp.yaml; or `configPath` to load one; neither means every default. */
  readonly config?: GatewayConfig;
  readonly configPath?: string;
  /** Overrides gateway.listen (`HOST:PORT`). */
  readonly listen?: string;
  /** Overrides gateway.store (a path or postgres:// URL). */
  readonly store?: string;
  /** Overrides gateway.tls. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Plain HTTP on a non-loopback address. */
  readonly insecure?: boolean;
  /** Native tools, defined with defineTool. */
  readonly tools?: readonly NativeTool[];
  /** Attributes of MCP tools for the global policies, by server then tool name (`resource.<name>`); replaces a server's `tool_attributes` from oacp.yaml. */
  readonly mcpToolAttributes?: Readonly<Record<string, Readonly<Record<string, ToolAttributes>>>>;
  /** Overrides the limits of oacp.yaml's `quotas` (tools, api_key_calls_per_min, llm_token_budget), field by field. */
  readonly quotas?: GatewayQuotaOptions;
  /** Tool-call Cedar policy for native tools (docs/policy.md format); the bridge's default-allow when absent. */
  readonly toolPolicy?: PolicyEngine;
  readonly restart?: Partial<RestartPolicy>;
  readonly logger?: Logger;
  /** Overrides otel.* (a custom exporter in tests). */
  readonly tracing?: TracingOptions;
  readonly publicMetrics?: boolean;
  readonly standardTier?: StandardTierOptions;
  /** Worker threads signing receipts (OacpNode's signing pool); 0 signs on the event loop. */
  readonly signingWorkers?: number;
  readonly egress?: EgressFetchOptions;
  /** Replaces the store-backed agent directory (tests). */
  readonly agents?: AgentDirectory;
  readonly onAgentEvent?: (event: AgentRuntimeEvent) => void;
}

export interface Gateway {
  readonly app: Hono<GatewayEnv>;
  /** Every route `app` serves with the access it declares (docs/gateway.md, "Authentication"). */
  readonly routes: readonly DeclaredRoute[];
  readonly services: GatewayServices;
  readonly node: OacpNode;
  readonly store: Store;
  readonly apiKeys: ApiKeys;
  readonly config: GatewayConfig;
  /** Starts serving HTTP(S) per the listen and TLS settings; resolves with the URL. */
  listen(): Promise<URL>;
  readonly url: URL | undefined;
  /** Stops serving, stops every agent's sandbox, flushes traces, closes the log and the store. */
  close(): Promise<void>;
}

/**
 * The composition root: opens the node (keys and log), the store, the vault,
 * the policies and the Airlock's standard tier, builds the runtime and the HTTP
 * app, replays quota consumption from the log, and restarts the agents that
 * were running when the gateway last stopped. Nothing is global: two gateways
 * on two homes can run in one process.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const env = options.env ?? process.env;
  const config =
    options.config ??
    (options.configPath === undefined
      ? parseGatewayConfig({}, process.cwd())
      : loadGatewayConfig(options.configPath));
  // The values the credential vault hands out (provider keys, tool secrets) and the agent keys the registry
  // unseals, masked in every log line and answer; the node's own keys are pinned there (never forgotten).
  const secrets = new SecretValues();
  const logger = (options.logger ?? stderrLogger()).withSecrets(secrets);
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        logger.error('close failed', { error });
      }
    }
  };

  try {
    const onTornTail: NonNullable<OacpNodeOptions['onTornTail']> = (cut) =>
      logger.warn(describeTornTailCut(cut));
    const node = await OacpNode.open(
      options.home,
      env,
      options.signingWorkers === undefined
        ? { secrets, onTornTail }
        : { signingWorkers: options.signingWorkers, secrets, onTornTail },
    );
    closers.push(() => node.close());
    // The keys derived from the log key (witness, transfer, node TLS) are the node's own too: pinned.
    secrets.pin(derivedKeyTexts(node.keys.logSigner()));
    for (const line of describeRecovery(node.recovered)) logger.warn(line);
    const masterKey = loadMasterKey(homeLayout(options.home).masterKey, env).bytes;
    // A store deleted or replaced while no gateway ran would start every quota window full: refused until accepted.
    const store = await openRecordedStore(
      options.home,
      options.store ?? config.gateway.store ?? defaultStorePath(options.home),
    );
    closers.push(() => store.close());
    const vault = new ContextVault({ store, masterKey });
    const apiKeys = new ApiKeys({ store });
    const credentials = new CredentialVault({ store, masterKey, secrets });
    const agents =
      options.agents ??
      registryDirectory(
        new AgentRegistry({
          store,
          masterKey,
          vault,
          credentials,
          trust: manifestTrustFrom(config.gateway),
          ceiling: ceilingManifest(config.sandbox.capabilities, agentQuotaDefaults(config.quotas)),
          secrets,
        }),
      );

    const metrics = new GatewayMetrics(node.origin);
    const tracing = Tracing.create(
      options.tracing ??
        (config.otel.endpoint === undefined
          ? {}
          : { otlpEndpoint: tracesUrl(config.otel.endpoint), serviceName: config.otel.service_name }),
    );
    closers.push(() => tracing.shutdown());
    const globalPolicy = new GatewayPolicy(
      config.policies.length === 0
        ? loadGlobalPolicies(DEFAULT_GLOBAL_POLICY, '<default global policy>')
        : loadGlobalPolicyFiles(config.policies),
    );
    const registry = new ToolRegistry();
    for (const tool of options.tools ?? []) registry.register(tool);
    closers.push(() => registry.close());
    const coSign = config.attestation.level !== 'basic';
    const signerOf = (did: string) => agents.signer(did);
    // One receipt slot for every tool path: nothing runs while the log cannot take its receipt.
    const slot = new ReceiptSlot({ dir: logDirectory(options.home) });
    const serverCallLimits: Record<string, number> = {};
    const approvals = new GatewayApprovalQueue({
      show: new Map(config.mcp.servers.map((server) => [server.name, server.approval_show_arguments])),
      spool: new ApprovalSpool(approvalSpoolDir(options.home)),
    });
    // The user's own grants, as `oacp mcp run --allow-files` checks them: a mistyped path is skipped by the sandbox.
    const configFile = options.configPath ?? 'oacp.yaml';
    const quotaEngine = new StoreQuotaEngine(store);
    for (const line of missingConfigFileGrants(configFile, config.mcp.servers)) logger.warn(line);
    for (const server of config.mcp.servers) {
      const runOptions = mcpRunOptionsFor(server);
      if (runOptions.quotaCalls !== undefined) serverCallLimits[server.name] = runOptions.quotaCalls;
      const source = await bridgedSource({
        options: runOptions,
        home: options.home,
        env,
        node,
        signerOf,
        coSign,
        logger,
        slot,
        approvals,
        quotaEngine,
      });
      await registry.addSource(source, options.mcpToolAttributes?.[server.name] ?? server.tool_attributes);
    }

    // The config's limits, each overridable by the option of the same meaning.
    const quotaOptions = {
      ...gatewayQuotaOptionsFrom(config.quotas),
      ...(Object.keys(serverCallLimits).length === 0 ? {} : { servers: serverCallLimits }),
      ...options.quotas,
    };
    closers.push(
      startBucketPruner(quotaEngine, { onEvent: (line) => logger.info('quota', { event: line }) }),
    );
    const quotas = new GatewayQuotas(quotaOptions, metrics, quotaEngine);
    const receipts = new ReceiptRecorder(node, metrics, slot, secrets);
    const tools = new ToolCaller({
      registry,
      toolPolicy: options.toolPolicy ?? defaultPolicyEngine(),
      globalPolicy,
      quotas,
      receipts,
      metrics,
      tracing,
      signerOf,
      coSign,
      credentials,
    });
    const modelProviders = new Providers(config.models);
    // The tokenizer is loaded here, once, when there is a model to call, not on the first call.
    if (config.models.providers.length > 0) loadTokenizer();
    closers.push(() => modelProviders.close());
    const budgets = config.models.budgets;
    // Provider keys are read from the vault once a minute at most, and again at once after a change.
    const providerKeys = new ProviderKeys({
      read: (provider) => credentials.resolveForCall(MODEL_PROVIDER_KEYS, `models/${provider.name}`),
      generation: () => credentials.generation,
    });
    const models = new ModelGateway({
      config: config.models,
      providers: modelProviders,
      budget: new ModelBudget(quotaEngine, {
        ...(budgets.tokens_per_hour === undefined ? {} : { tokensPerHour: budgets.tokens_per_hour }),
        ...(budgets.tokens_per_day === undefined ? {} : { tokensPerDay: budgets.tokens_per_day }),
        ...(budgets.cost_per_day_usd === undefined
          ? {}
          : { costPerDayMicros: Math.round(budgets.cost_per_day_usd * 1e6) }),
      }),
      globalPolicy,
      receipts,
      metrics,
      tracing,
      secretsFor: (provider) => providerKeys.secretsFor(provider),
    });
    // Answers do not wait for their settlements; the store closes only after they are written.
    closers.push(() => models.budget.settled());
    // Asynchronous batches (docs/model-gateway.md): those this node ran before it stopped are resumed.
    const modelBatches = new ModelBatches({
      store: batchStore(store.sql),
      items: batchItemStore(store.sql),
      transaction: (fn) => store.transaction((tx) => fn({ sql: tx.sql, dialect: store.dialect })),
      logSize: () => node.log.size,
      node: config.cluster?.node_id ?? 'local',
    });
    await modelBatches.recover(
      {
        partsFor: async (agentId, request) => {
          const caller = await modelCallerFor(agents, agentId, false);
          return caller === undefined ? undefined : batchParts(models, config.models, caller, request);
        },
        receiptsOf: (id, from) => receiptsOfBatch(node.log, id, from),
      },
      async (row, endpoint, reason) => {
        const caller = await modelCallerFor(agents, row.agentId, false);
        const dialect = BATCH_DIALECTS[endpoint];
        if (caller === undefined || dialect === undefined) return undefined;
        const answer = await models.abandoned(dialect, caller, sha256Hex(row.batch), reason);
        const index = Number(answer.headers['oacp-receipt']);
        return Number.isInteger(index) ? index : undefined;
      },
    );
    closers.push(() => modelBatches.close());
    // Ended batches' items at once, ended batches and uploaded files past their retention (docs/model-gateway.md).
    closers.push(
      startBatchPruner(modelBatches, batchFileStore(store.sql), {
        retentionMs: config.models.batch_retention_days * 24 * 60 * 60 * 1000,
        onEvent: (line) => logger.info('model batches', { event: line }),
      }),
    );

    const tier = await StandardTier.create({
      onEngineReport: (message) => logger.warn('standard tier engine', { engine: message }),
      ...options.standardTier,
      sandbox: { wallTimeoutMs: 30_000, ...options.standardTier?.sandbox },
    });
    closers.push(() => tier.close());
    const runtime = new AgentRuntime({
      tier,
      tools,
      context: vaultContext(vault),
      quotas,
      receipts,
      metrics,
      tracing,
      globalPolicy,
      signerOf,
      coSign,
      logger,
      restart: { ...DEFAULT_RESTART_POLICY, ...options.restart },
      ...(options.egress === undefined ? {} : { egress: options.egress }),
      modelsChat: sandboxChat(models, agents, coSign, (agent) =>
        quotas.admitModelCall(agent, agent.manifest),
      ),
      onEvent: (event) => {
        logger.info(`agent ${event.type}`, { ...event });
        options.onAgentEvent?.(event);
      },
    });
    closers.push(() => runtime.close());

    // One nonce store for the whole replay window: the cluster's table on PostgreSQL, else the home's file.
    const nonceStore = openGatewayNonceStore(store, options.home);
    closers.push(() => nonceStore.close());
    const nonces = nonceStore.nonces;
    const unauthenticatedCalls = new UnauthenticatedToolCalls(tools, refusalLimitsOf(config));
    const auth = new Authenticator({
      apiKeys,
      agents,
      nonces,
      metrics,
      securityEvents: store.securityEvents,
      // Anyone can cause these: the same limits as A2A's refusals of unauthenticated input.
      eventLimits: refusalLimitsOf(config),
      onRefused: (refusal) => unauthenticatedCalls.refused(refusal),
    });
    // On close, before the store and the log do: the refusals not yet summed up.
    closers.push(() => auth.flush());
    closers.push(() => unauthenticatedCalls.flush());
    const clusterTls: ClusterTls | undefined =
      config.cluster?.tls === undefined
        ? undefined
        : config.cluster.tls === 'node-key'
          ? // Self-issued from a key derived from the log key; peers pinned by etcd membership.
            nodeKeyTls(
              config.cluster.node_id,
              derivedSeed(node.keys.logSigner(), DERIVED_KEY_LABELS.nodeTls),
              (origin: string): Promise<string | undefined> =>
                cluster?.pinnedKey(origin) ?? Promise.resolve(undefined),
            )
          : // CA-issued; a server must name the member etcd registers at the URL reached.
            loadClusterTls(
              config.cluster.tls,
              config.cluster.node_id,
              async (origin: string): Promise<string | undefined> => (await cluster?.memberAt(origin))?.id,
            );
    if (clusterTls !== undefined) closers.push(() => clusterTls.close());
    const cluster: GatewayCluster | undefined =
      config.cluster === undefined
        ? undefined
        : new GatewayCluster(
            {
              etcd: config.cluster.etcd,
              nodeId: config.cluster.node_id,
              ttlSeconds: config.cluster.ttl_seconds,
              logKey: node.log.verifierKey,
              witnessKey: witnessVerifierKey(node.origin, nodeWitnessSigner(node.keys.logSigner())),
              // Derived from the sealed log key: the same after a restart (docs/cluster.md, Migration).
              transferKey: TransferKey.derive(node.keys.logSigner()),
              inboundDir: join(options.home, 'cluster', 'inbound'),
              ...(clusterTls === undefined ? {} : { tls: clusterTls }),
            },
            agents,
            runtime,
            receipts,
            logger,
          );
    const gossip = await startGatewayGossip({
      home: options.home,
      node,
      config,
      cluster,
      metrics,
      logger,
      securityEvents: store.securityEvents,
    });
    if (gossip !== undefined) closers.push(() => gossip.stop());
    if (gossip !== undefined) cluster?.trustPeersBy((url) => gossip.isTrusted(url));
    const address = parseListen(options.listen ?? config.gateway.listen);
    const services: GatewayServices = {
      agents,
      secrets,
      runtime,
      registry,
      tools,
      context: vaultContext(vault),
      quotas,
      ...(cluster === undefined ? {} : { cluster }),
      ...(gossip === undefined ? {} : { gossip }),
      auth,
      credentials,
      log: node.log,
      logDir: logDirectory(options.home),
      origin: node.origin,
      airlockKeys: [node.keys.publicKeys().airlock.raw],
      metrics,
      tracing,
      logger,
      models: {
        gateway: models,
        config: config.models,
        batches: modelBatches,
        files: new BatchFiles(batchFileStore(store.sql), config.models.file_bytes_per_agent),
      },
      ...(options.publicMetrics === undefined ? {} : { publicMetrics: options.publicMetrics }),
      maxBodyBytes: config.gateway.max_body_bytes,
      ...(config.gateway.body_bytes_in_flight === undefined
        ? {}
        : { maxBodyBytesInFlight: config.gateway.body_bytes_in_flight }),
      hostGuard: hostGuardFor(address.host),
      approvals,
    };
    // Refusals anyone can cause get receipts within these limits, so nobody can fill the log.
    const refusalLimits = refusalLimitsOf(config);
    // Every refusal is counted; an unauthenticated one's log line is limited as its receipt is.
    const a2aWarnings = refusalWarnings(logger, refusalLimits, (event) =>
      metrics.security('warning', `a2a_${event.type}`),
    );
    closers.push(() => a2aWarnings.flush());
    // Any client can cause a cut (never read a large answer): every cut counted, its lines limited.
    const unreadCuts = unreadCutLog(
      (line) => logger.warn(line),
      { holder: 'the gateway', setting: 'gateway.max_unread_answer_bytes' },
      () => metrics.unreadAnswersCut.inc(),
    );
    closers.push(() => unreadCuts.flush());
    // A2A (docs/a2a.md): the running agents' signed cards and JSON-RPC endpoints under /a2a.
    const a2a = gatewayA2aServer({
      agents,
      runtime,
      log: node.log,
      origin: node.origin,
      airlockKeys: [node.keys.publicKeys().airlock.raw],
      trust: config.a2a.trust,
      nonces,
      // In a cluster the tasks are in the shared store, so any node reads what another created.
      ...(cluster === undefined
        ? {}
        : {
            taskStore: (agent: { did: string }) =>
              new StoreTaskStore(store.a2aTasks, { agent: agent.did, node: cluster.nodeId }),
            // Messages, streams and cancels for an agent another node runs are answered there.
            // One between owners waits for the next as a run does (docs/cluster.md).
            forward: (agent: { did: string }, request: Request, body: string) =>
              forwardOrAwaitOwner(
                cluster,
                () => runtime.status(agent.did).status,
                agent.did,
                request,
                new TextEncoder().encode(body),
              ),
            // Moved away between that check and the run: it runs here once it is back, else not at all.
            awaitRunning: (did: string) => cluster.awaitRunningHere(did),
            // A relayed card is built on the base the caller used at the relaying node; that base
            // passes this listener's Host check too, so the header can name nothing Host could not.
            relayed: (request: Request) =>
              hopsOf(request) > 0 && services.hostGuard?.(relayedHost(request)).effect !== 'deny',
            // Cards name this node's log as read through any member (routes-cluster.ts).
            logPaths: memberLogPaths(cluster.nodeId),
          }),
      onSecurityEvent: a2aWarnings.onEvent,
      // Refused messages get a receipt each, through the same recorder as tool calls.
      receipts: {
        reserve: () => receipts.reserve(),
        record: (record) => receipts.toolCall(record, record.agent),
      },
      refusalReceipts: refusalLimits,
      checks: a2aInboundChecks({ globalPolicy, quotas, agents }),
      secrets,
      // A relay that failed (the owner unreachable, the agent between nodes): the gateway's status
      // map and log, answered as a JSON-RPC error (src/a2a/http-refusal.ts).
      failure: (error: unknown) => {
        const failure = toHttpFailure(error, secrets);
        if (failure.status >= 500) logger.error('a2a request failed', { error });
        return refusalOf(failure);
      },
    });
    // On close, after the listener stops and before the log does: the refusals not yet summed up.
    closers.push(() => a2a.flushRefusals());
    const { app, routes, refuseRequest } = createApp(services, [
      {
        app: a2a.app,
        access: open('A2A authenticates each message by its signature and the trust graph'),
        refuseUnread: a2a.refuseUnread,
        refuseRequest: a2a.refuseRequest,
      },
    ]);

    // In a cluster, etcd decides which node runs which agent (GatewayCluster, once listening).
    if (cluster === undefined) await restoreState(services, agents);

    let listening: Listening | undefined;
    const tls = options.tls ?? config.gateway.tls;
    return {
      app,
      routes,
      services,
      node,
      store,
      apiKeys,
      config,
      get url() {
        return listening?.url;
      },
      async listen() {
        if (listening !== undefined) return listening.url;
        listening = await listen(app.fetch, {
          ...address,
          refuseRequest,
          ...(tls === undefined ? {} : { tls }),
          ...(options.insecure === undefined ? {} : { insecure: options.insecure }),
          ...(config.gateway.max_connections === undefined
            ? {}
            : { maxConnections: config.gateway.max_connections }),
          onDropping: (dropped, max) =>
            logger.warn(
              `${dropped} connection(s) closed as they were accepted: the listener holds ${max} at once (gateway.max_connections); said at most once a minute`,
            ),
          maxUnreadAnswerBytes: config.gateway.max_unread_answer_bytes,
          onUnreadCut: unreadCuts.onCut,
        });
        const server = listening;
        closers.push(() => server.close());
        if (cluster !== undefined) {
          // With cluster.tls, members reach this node only through its mutual-TLS listener.
          let memberUrl = server.url;
          if (clusterTls !== undefined && config.cluster !== undefined) {
            const peers = await listenForCluster(app.fetch, cluster, {
              listen: config.cluster.listen,
              mode: clusterTls.mode,
              tls: clusterTls.listener,
              refuseRequest,
            });
            closers.push(() => peers.close());
            memberUrl = peers.url;
            logger.info('cluster listener (mutual TLS)', { url: peers.url.href });
          }
          await cluster.join(memberUrl);
          // First on close, while still listening: the agents move to live nodes with their state
          // (bounded), and what is left is given up at once instead of after the lease TTL.
          closers.push(() => cluster.drainAndLeave());
        }
        logger.info('gateway listening', { url: server.url.href, origin: node.origin });
        return server.url;
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * After a restart (or a crash): agents recorded as running get their
 * sandboxes back. Quotas need nothing: their buckets live in the store.
 */
async function restoreState(services: GatewayServices, agents: AgentDirectory): Promise<void> {
  const all = await agents.list();
  for (const agent of all.filter((a) => a.state === 'running')) {
    try {
      await services.runtime.start({
        did: agent.id,
        name: agent.name,
        manifest: agent.manifest,
        attributes: agent.attributes,
        code: agent.code,
      });
    } catch (error) {
      services.logger.warn('agent not restarted', { agent: agent.name, error });
    }
  }
}

/** otel.endpoint is the collector's base URL; traces go to its /v1/traces unless a path is given. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.href;
}

/** The host of the base URL a relaying member passed for an A2A card; undefined when there is none. */
function relayedHost(request: Request): string | undefined {
  const base = request.headers.get(RELAYED_BASE_HEADER);
  if (base === null || !URL.canParse(base)) return undefined;
  return new URL(base).host;
}

/** oacp.yaml `a2a.refusal_receipts`: how many refusals anyone can cause get a record of their own. */
function refusalLimitsOf(config: GatewayConfig): RefusalReceiptLimits {
  return {
    perSourcePerMinute: config.a2a.refusal_receipts.per_source_per_minute,
    overallPerMinute: config.a2a.refusal_receipts.overall_per_minute,
  };
}
