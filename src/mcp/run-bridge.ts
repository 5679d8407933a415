import { join } from 'node:path';
import type { EgressEvent } from '../airlock/egress/audit.js';
import type { QuotaEngine } from '../airlock/quota/engine.js';
import type { RefusalReceiptLimits } from '../airlock/quota/refusal-limit.js';
import type { AsyncSigner } from '../attest/receipt.js';
import type { Signer } from '../core/ed25519.js';
import { isLoopbackAddress } from '../core/loopback.js';
import { replaceFile } from '../core/replace-file.js';
import type { SecretValues } from '../core/secret-values.js';
import { oneLine } from '../core/terminal-text.js';
import { openHomeNonceStore } from '../identity/home-nonce-store.js';
import type { KeyStore } from '../identity/keystore.js';
import type { NonceStore } from '../identity/nonce-store.js';
import { describeRecovery, describeTornTailCut } from '../node/intent-journal.js';
import { logDirectory, OacpNode } from '../node/oacp-node.js';
import { SigningPool } from '../node/signing-pool.js';
import { PolicyEngine } from '../policy/engine.js';
import type { SecurityEventSink } from '../policy/events.js';
import { loadPolicyFile } from '../policy/load.js';
import { ToolPins } from '../policy/pins.js';
import { ApprovalService } from './approval.js';
import { HttpApprovalDesk, newDeskToken } from './approval-desk.js';
import { bridgeApprovalDesk } from './approval-remote.js';
import { type Bridge, createBridge } from './bridge.js';
import { CallRateQuota } from './call-quota.js';
import type { Catalog } from './catalog/catalog.js';
import { catalogEntryFor } from './catalog/preload.js';
import { type ClientRefusalLog, clientRefusalLog } from './client-refusal-log.js';
import { type ClientToken, clientToken } from './client-token.js';
import { writeDeskToken } from './desk-token.js';
import { describeHints, type PermissionHint, permissionHints } from './diagnose/permission-hints.js';
import { unixSocketHint } from './diagnose/unix-socket-hint.js';
import type { HeldFile } from './held-file.js';
import type { HeldLog } from './held-log.js';
import { recordHttpBridge } from './http-bridge-record.js';
import { type LazyHomeQuotas, lazyHomeQuotas } from './lazy-home-quotas.js';
import { manifestFromOptions } from './manifest-from-options.js';
import type { McpRunOptions } from './options.js';
import { type PreparedServer, prepareServer } from './prepare-server.js';
import { AttestedReceipts, logReceiptWriter } from './receipts.js';
import type { ReceiptSink } from './record.js';
import { refusalReceiptLimits } from './refusal-receipts.js';
import type { McpRunContext } from './run.js';
import type { BridgeEvent } from './session.js';
import { bridgeSigningWorkers } from './signing-choice.js';
import { serveStdio } from './stdio.js';
import { openControllingTerminal, TerminalApprovalDesk } from './terminal-desk.js';
import { toolFilterFromFlag } from './tool-filter.js';
import { unreadCutLog } from './unread-cut-log.js';

export async function runBridge(
  options: McpRunOptions,
  configured: ReadonlyMap<string, McpRunOptions> | undefined,
  context: McpRunContext,
  base: {
    readonly log: (line: string) => void;
    readonly env: Readonly<Record<string, string | undefined>>;
    readonly catalog: Catalog;
    readonly held: HeldLog;
    /** Masks `log` already; the master key's and the private keys' forms are added at open, and receipt reasons are masked with it. */
    readonly secrets: SecretValues;
  },
  early: Promise<PreparedServer> | undefined,
): Promise<void> {
  const { log, env, catalog, held, secrets } = base;
  const node = await OacpNode.open(context.home, env, {
    secrets,
    onTornTail: (cut) => log(`oacp: ${describeTornTailCut(cut)}`),
  });
  for (const line of describeRecovery(node.recovered)) log(`oacp: ${line}`);
  // One nonce store per home: a signed request replayed to another bridge on the home is refused too.
  const nonces = openHomeNonceStore(context.home);
  let stopPool: (() => Promise<void>) | undefined;
  let ownQuotas: LazyHomeQuotas | undefined;
  let deskToken: { path: string; remove(): void } | undefined;
  let clients: ClientToken | undefined;
  let record: HeldFile | undefined;
  const refusalLog = clientRefusalLog(log);
  const unreadCuts = unreadCutLog((line) => log(`oacp: ${line}`), {
    holder: 'the bridge',
    setting: '--max-unread-answer-bytes',
  });
  try {
    const limited = [options, ...(configured?.values() ?? [])].some((o) => o.quotaCalls !== undefined);
    // The process's one connection to the home's quota store (run.ts's, which the servers' network
    // budgets use too); opened here, before anything starts, when a server has --quota-calls.
    const homeQuotas = context.quotas ?? (limited ? lazyHomeQuotas(context.home) : undefined);
    if (context.quotas === undefined) ownQuotas = homeQuotas;
    const quotas = limited ? await homeQuotas?.engine() : undefined;
    const agent = options.agent === undefined ? undefined : agentKey(node.keys, options.agent);
    // The operator's token for the HTTP approval desk: the MCP clients share its listener and must
    // not approve their own calls. Kept in a 0600 file of the home, masked wherever OACP writes text.
    const token = newDeskToken();
    secrets.pin([token]);
    deskToken = options.http === undefined ? undefined : writeDeskToken(context.home, token);
    // Who may be a client of --http: a token read or made now, before any server starts.
    clients =
      options.http === undefined ? undefined : clientToken(context.home, options, (t) => secrets.pin([t]));
    const desk = new HttpApprovalDesk(
      token,
      deskToken === undefined ? undefined : `in ${deskToken.path} (0600), written when this bridge started`,
    );
    const signer = receiptSigner(node.keys.airlockSigner(), log);
    stopPool = signer.close;
    const writer = logReceiptWriter(node.log, signer, {
      ack: options.receiptAck,
      dir: logDirectory(context.home),
    });
    // The HTTP server and the multi-server front (the MCP SDK) load only when asked for:
    // a stdio bridge for one server, what MCP clients start, starts without them.
    const http = options.http === undefined ? undefined : await import('./http.js');
    const terminal = options.http === undefined ? openControllingTerminal() : undefined;
    const shared: Shared = {
      desk,
      ...(terminal === undefined ? {} : { terminal: new TerminalApprovalDesk(terminal) }),
      agent,
      log,
      refusalLog,
      nonces,
      ...(quotas === undefined ? {} : { quotas }),
      http: options.http !== undefined,
      refusalReceipts: refusalReceiptLimits(options.refusalReceipts),
      receipts: new AttestedReceipts({
        writer,
        origin: node.origin,
        journal: () => node.intents(),
        secrets,
        ...(options.attestLevel === 'standard' && agent !== undefined ? { agentSigner: agent.signer } : {}),
        ...(http === undefined ? {} : { receiptPath: http.receiptPath }),
      }),
    };
    const parts =
      configured === undefined
        ? [
            await assemble(
              options,
              await (early ?? prepareServer(options, context, log, undefined)),
              shared,
              catalog,
            ),
          ]
        : await Promise.all(
            [...configured.values()].map(async (entry) =>
              assemble(entry, await prepareServer(entry, context, log, undefined), shared, catalog),
            ),
          );
    const bridge =
      configured === undefined && parts[0] !== undefined
        ? parts[0].bridge
        : (await import('./aggregate.js')).createAggregateBridge(
            new Map(parts.map((part) => [part.name, part.bridge])),
            {
              receipts: shared.receipts,
              refusalReceipts: shared.refusalReceipts,
              ...(agent === undefined ? {} : { agent: agent.did }),
              // Reported as a server's session reports it (describeEvent), under the front's name.
              onReceiptFailed: (callId, reason) =>
                log(describeEvent('front', { type: 'receipt-failed', callId, reason })),
            },
          );
    const finish = async () => {
      await writer.settled();
      for (const part of parts) part.finishLearning();
    };
    const title = parts.map((part) => part.name).join(', ');
    // One line before anything else, so a user whose client shows nothing knows where to look.
    // The file grants as bound (a relative `--allow-files ./data` resolved against the invoker's folder).
    const files = [
      ...new Set(
        (configured === undefined ? [options] : [...configured.values()]).flatMap((entry) =>
          entry.allowFiles.map((grant) => `${oneLine(grant.path, 200)}${grant.writable ? ':rw' : ''}`),
        ),
      ),
    ];
    log(
      `oacp: MCP bridge for ${title}: tier ${[...new Set(parts.map((part) => part.tier))].join(', ')}, home ${context.home}, log ${logDirectory(context.home)}${files.length === 0 ? '' : `, files ${files.join(' ')}`}`,
    );
    held.release();
    if (terminal === undefined && options.http === undefined) {
      const approved = (configured === undefined ? [options] : [...configured.values()]).flatMap(
        (entry) => entry.requireApproval,
      );
      // No desk of its own to ask at: say so now, not only in each call's eventual deny.
      if (approved.length > 0) {
        log(
          `oacp: calls to ${approved.map((tool) => oneLine(tool, 100)).join(', ')} wait for an operator's approval, and with no terminal here and no --http approval endpoint only the console of a gateway on home ${context.home} can decide them (docs/console.md, "Standalone bridges"); unanswered, each is denied after --approval-timeout`,
        );
      }
    }
    if (options.http === undefined || http === undefined) {
      const session = await serveStdio(
        bridge,
        context.stdin ?? process.stdin,
        context.stdout ?? process.stdout,
      );
      await Promise.race([session.closed, abortPromise(context.signal)]);
      await bridge.close();
      await finish();
      return;
    }
    if (clients === undefined) throw new Error('--http is set but no client authentication was chosen');
    const served = await http.serveHttp(bridge, {
      host: options.http.host,
      port: options.http.port,
      clientAuth: clients.auth,
      onUnauthenticated: (req, why) => refusalLog.unauthenticated(req.socket.remoteAddress ?? 'unknown', why),
      approvals: desk,
      receipts: node.log,
      idleTimeoutMs: options.idleTimeout,
      maxSessions: options.maxSessions,
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
      onDropping: (dropped, max) =>
        log(
          `oacp: ${dropped} connection(s) closed as they were accepted: the bridge holds ${max} at once (--max-connections); said at most once a minute`,
        ),
      ...(options.maxUnreadAnswerBytes === undefined
        ? {}
        : { maxUnreadAnswerBytes: options.maxUnreadAnswerBytes }),
      onUnreadCut: unreadCuts.onCut,
    });
    // Held while the bridge lives: `oacp doctor` reports its client authentication.
    record = recordHttpBridge(context.home, {
      pid: process.pid,
      listen: served.url.host,
      ...clients.record,
      started: new Date().toISOString(),
    });
    log(`oacp: MCP bridge for ${title} at ${served.url.href} (legacy SSE: ${served.sseUrl.href})`);
    log(clients.line);
    if (deskToken !== undefined) {
      log(
        `oacp: approvals at ${new URL('/oacp/approvals', served.url).href} need Authorization: Bearer $(cat ${deskToken.path})`,
      );
    }
    if (!isLoopbackAddress(options.http.host)) {
      log(
        'oacp: warning: the bridge listens beyond loopback over plain HTTP: its client and approval tokens cross the network in clear; put it behind TLS or keep it on loopback',
      );
    }
    context.onListening?.(served);
    await abortPromise(context.signal);
    await served.close();
    await finish();
  } finally {
    // The counts of the window still open: the operator sees them before the bridge's last line.
    await refusalLog.flush();
    await unreadCuts.flush();
    deskToken?.remove();
    clients?.remove();
    record?.remove();
    await node.close();
    await stopPool?.();
    await ownQuotas?.close();
    nonces.close();
  }
}

/**
 * The Airlock's receipt signer: a worker thread when there is a spare core
 * (the main thread only routes messages), started at the first signature, so
 * a session's start (the server booting beside the bridge on two cores, its
 * first tools/list, which no receipt covers) does not pay for a second V8
 * isolate. A pool that cannot start leaves the same key signing in this
 * thread, and says so.
 */
function receiptSigner(
  airlock: Signer,
  log: (line: string) => void,
): AsyncSigner & { close(): Promise<void> } {
  let pooled: Promise<SigningPool | undefined> | undefined;
  const pool = (): Promise<SigningPool | undefined> => {
    pooled ??=
      bridgeSigningWorkers() > 0
        ? SigningPool.start(airlock, { workers: 1 }).catch((error: unknown) => {
            log(
              `oacp: receipts are signed on the main thread: the signing worker did not start (${error instanceof Error ? error.message : String(error)})`,
            );
            return undefined;
          })
        : Promise.resolve(undefined);
    return pooled;
  };
  return {
    publicKey: airlock.publicKey,
    sign: async (message) => {
      const started = await pool();
      return started === undefined ? airlock.sign(message) : started.sign(message);
    },
    close: async () => {
      await (await pooled)?.close();
    },
  };
}

/** What every server of one run shares: receipts, the approval desk, the agent, the log sink. */
interface Shared {
  readonly receipts: ReceiptSink;
  readonly desk: HttpApprovalDesk;
  /** In stdio mode, approvals are asked on the operator's terminal when there is one. */
  readonly terminal?: TerminalApprovalDesk;
  readonly agent: { did: string; signer: Signer } | undefined;
  readonly log: (line: string) => void;
  /** Limits the lines of clients' refused messages (any local process can send them: --http). */
  readonly refusalLog: ClientRefusalLog;
  readonly nonces: NonceStore;
  /** The home's quota engine, when a server has `--quota-calls`. */
  readonly quotas?: QuotaEngine;
  readonly http: boolean;
  /** `--refusal-receipts`: how many refused client messages get a receipt of their own. */
  readonly refusalReceipts: RefusalReceiptLimits;
}

function quotaEngine(shared: Shared): QuotaEngine {
  // Opened whenever a server has --quota-calls; never a bridge without its limit.
  if (shared.quotas === undefined)
    throw new Error('--quota-calls is set but the home quota store is not open');
  return shared.quotas;
}

interface Assembled {
  readonly name: string;
  readonly tier: string;
  readonly bridge: Bridge;
  /** After the bridge closed: writes what --learn saw. */
  finishLearning(): void;
}

async function assemble(
  options: McpRunOptions,
  prepared: PreparedServer,
  shared: Shared,
  catalog: Catalog,
): Promise<Assembled> {
  const { log, agent } = shared;
  const { context, upstream, sandboxes, learned, stderrTail } = prepared;
  const name = upstream.identity.name;
  const events: SecurityEventSink = {
    emit: (event) =>
      log(
        `oacp: security: ${event.type}: tool "${event.tool}" on "${event.server}" (pinned ${event.pinnedDigest.slice(0, 12)}…, now ${event.observedDigest.slice(0, 12)}…); calls to it are blocked`,
      ),
  };
  const pins = new ToolPins({
    path: options.pins ?? join(context.home, 'mcp', 'pins', `${name}.json`),
    events,
  });
  // A catalogued server's reviewed tool definitions are pinned before it first lists them.
  const entry = catalogEntryFor(catalog, upstream.identity.tree, options.catalog);
  if (entry !== undefined) {
    const added = pins.preload(name, entry.tools);
    log(
      `oacp: ${name}: ${entry.tools.length} tool definitions pinned by the catalog entry "${entry.name}" (${entry.package}@${entry.version}${added === 0 ? '' : `, ${added} new here`}); a tool listed otherwise is blocked`,
    );
  }
  const bridge = createBridge({
    upstream,
    receipts: shared.receipts,
    pins,
    ...(options.policy === undefined ? {} : { policy: new PolicyEngine(loadPolicyFile(options.policy)) }),
    ...toolsOption(options),
    ...(options.quotaCalls === undefined
      ? {}
      : { quota: new CallRateQuota(options.quotaCalls, quotaEngine(shared), name) }),
    ...(options.requireApproval.length === 0
      ? {}
      : {
          approval: {
            tools: options.requireApproval,
            approver: new ApprovalService({
              timeoutMs: options.approvalTimeout,
              // The bridge's own desk (endpoint or terminal) and the home's spool, which a gateway's console decides.
              desk: bridgeApprovalDesk(context.home, options, shared.http ? shared.desk : shared.terminal),
            }),
          },
        }),
    ...(agent === undefined ? {} : { agent: agent.did }),
    ...(learned === undefined ? {} : { learn: learned }),
    nonces: shared.nonces,
    requestTimeoutMs: options.requestTimeout,
    refusalReceipts: shared.refusalReceipts,
    onEvent: (event, session) => {
      // The Unix socket hint only where the hardened tier refused them, as for a stopped server (stopHints).
      if (event.type === 'call-hint' && (options.tier !== 'hardened' || unixSocketsAllowed(options, name)))
        return;
      if (!shared.refusalLog.admit(name, event, session)) return;
      log(
        describeEvent(name, event) +
          (isStop(event)
            ? ` (tier ${options.tier}, home ${context.home}, log ${logDirectory(context.home)}); ${stderrTail.describe()}${describeHints(stopHints(options, name, stderrTail.lines()))}`
            : ''),
      );
    },
  });
  const finishLearning = (): void => {
    if (learned === undefined) return;
    for (const sandbox of sandboxes) {
      const egress = (sandbox as Partial<{ egressEvents(): readonly EgressEvent[] }>).egressEvents?.();
      if (egress !== undefined) learned.observeEgress(egress);
    }
    const out = options.learnOut ?? join(process.cwd(), `${name}.learned.oacp.yaml`);
    // Often in a directory the server may write (its project, granted :rw): a link it left there is replaced.
    replaceFile(out, learned.yaml(manifestFromOptions(options, name)), 0o644);
    log(`oacp: learned manifest written to ${out} (tools: ${learned.tools.join(', ') || 'none'})`);
  };
  return { name, tier: options.upstream === undefined ? options.tier : 'remote', bridge, finishLearning };
}

/** The grants a stopped server's stderr suggests; the Unix socket one only where the hardened tier refused it. */
function stopHints(options: McpRunOptions, name: string, lines: readonly string[]): PermissionHint[] {
  const unix =
    options.tier === 'hardened' && !unixSocketsAllowed(options, name) ? unixSocketHint(lines) : undefined;
  return [...permissionHints(lines), ...(unix === undefined ? [] : [unix])];
}

/** Whether the server's manifest (`--manifest` plus the flags) already allows Unix sockets: then no hint. */
function unixSocketsAllowed(options: McpRunOptions, name: string): boolean {
  try {
    return manifestFromOptions(options, name).capabilities.unix_sockets === true;
  } catch {
    return options.allowUnixSockets;
  }
}

function toolsOption(options: McpRunOptions): { tools?: { allow: string[]; deny: string[] } } {
  if (options.tools.length > 0) return { tools: toolFilterFromFlag(options.tools) };
  if (options.manifest !== undefined) {
    const manifest = manifestFromOptions(options, 'tools');
    return {
      tools: { allow: [...manifest.capabilities.tools.allow], deny: [...manifest.capabilities.tools.deny] },
    };
  }
  return {};
}

/** The agent's key, from the node's own store: its text forms join the process's secrets as it loads. */
function agentKey(keys: KeyStore, name: string): { did: string; signer: Signer } {
  const agent = keys.agent(name);
  return { did: agent.did, signer: agent.signer };
}

function describeEvent(server: string, event: BridgeEvent): string {
  switch (event.type) {
    case 'upstream-ended':
      return `oacp: ${server}: ${event.reason}; restarting`;
    case 'upstream-restarted':
      return `oacp: ${server}: restarted (attempt ${event.attempt})`;
    case 'upstream-restart-failed':
      return `oacp: ${server}: restart attempt ${event.attempt} failed: ${event.reason}`;
    case 'upstream-gave-up':
      return `oacp: ${server}: giving up after repeated failures: ${event.reason}`;
    case 'invalid-message':
      return `oacp: ${server}: invalid JSON-RPC from the ${event.from}: ${event.reason}`;
    case 'receipt-failed':
      return `oacp: ${server}: RECEIPT NOT WRITTEN for call ${event.callId}: ${event.reason}`;
    case 'pin-refresh-failed':
      return `oacp: ${server}: could not list the server's tools to pin them: ${event.reason}`;
    case 'request-timeout':
      return `oacp: ${server}: ${event.method} got no answer before the request deadline (--request-timeout)`;
    case 'send-failed':
      return `oacp: ${server}: a message to the ${event.to} could not be sent: ${event.reason}`;
    case 'call-hint':
      return `oacp: ${server}: tools/call ${oneLine(event.tool, 200)} failed${describeHints([event.hint])}`;
  }
}

/** Events after which the user needs to know why the server stopped. */
function isStop(event: BridgeEvent): boolean {
  return event.type === 'upstream-ended' || event.type === 'upstream-gave-up';
}

function abortPromise(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => undefined);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
