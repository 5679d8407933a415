import type { Clock } from '../airlock/quota/clock.js';
import { DEFAULT_REFUSAL_RECEIPT_LIMITS, type RefusalReceiptLimits } from '../airlock/quota/refusal-limit.js';
import type { NonceStore } from '../identity/nonce-store.js';
import { InMemoryNonceStore } from '../identity/nonce-store.js';
import type { PolicyEngine } from '../policy/engine.js';
import { ToolPins } from '../policy/pins.js';
import type { Approver } from './approval.js';
import type { GateParts } from './call-gate.js';
import type { CallQuota } from './call-quota.js';
import { type CallRecorder, callRecorder } from './call-recorder.js';
import { defaultPolicyEngine } from './default-policy.js';
import { ListedArguments } from './listed-arguments.js';
import type { MessageLimits } from './message-limits.js';
import type { ReceiptSink } from './record.js';
import { bridgeRefusals } from './refusal-receipts.js';
import {
  type BridgeEvent,
  BridgeSession,
  type DirectCall,
  type DirectOutcome,
  type RestartPolicy,
} from './session.js';
import type { ToolFilter } from './tool-filter.js';
import type { MessageTransport } from './transport.js';
import type { UpstreamConnector } from './upstream.js';

export interface BridgeOptions {
  /** Starts (or reaches) the server; each client session gets its own link. */
  readonly upstream: UpstreamConnector;
  readonly receipts: ReceiptSink;
  /**
   * Cedar policy, or how to build it (at first use); without one,
   * DEFAULT_POLICY_TEXT (permit every tool call) is in force. A build that
   * throws leaves every policed call and server request denied, naming why.
   */
  readonly policy?: PolicyEngine | (() => PolicyEngine);
  readonly tools?: ToolFilter;
  /** Tool definition pins; an in-memory set when not given. */
  readonly pins?: ToolPins;
  readonly quota?: CallQuota;
  /** Tools (names or `prefix*`) that need a person's approval, and who asks. */
  readonly approval?: { readonly tools: readonly string[]; readonly approver: Approver };
  /** A fixed principal for every call (the bridge runs for one agent). */
  readonly agent?: string;
  readonly restart?: RestartPolicy;
  /** `--learn`: policy and tools-list refusals are recorded here and the call proceeds. */
  readonly learn?: GateParts['learn'];
  /** `session`: which of the bridge's sessions (`session 1`, `session 2`...: never the HTTP session id, a credential). */
  readonly onEvent?: (event: BridgeEvent, session: string) => void;
  /** Replaces the default recorder (digests + the receipt sink), e.g. to co-sign. */
  readonly recorder?: CallRecorder;
  /** Nonces of signed agent requests; give the home's shared store (openHomeNonceStore) in production. */
  readonly nonces?: NonceStore;
  readonly limits?: MessageLimits;
  /** Deadline of every forwarded request, in ms (DEFAULT_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
  /**
   * Receipts of refused client messages per session and for all sessions, per minute (`--refusal-receipts`;
   * DEFAULT_REFUSAL_RECEIPT_LIMITS): past them a refusal is counted in a summary receipt (refusal-receipts.ts).
   */
  readonly refusalReceipts?: RefusalReceiptLimits;
  /**
   * The refusal limiter's clock (its buckets and its one-minute summary window; monotonic by default).
   * Not a user setting: a test moves it to see the summary written while the bridge keeps running.
   */
  readonly refusalClock?: Clock;
}

/** One client being served; ends when the client goes or the server cannot be kept up. */
export interface ServedSession {
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export interface Bridge {
  /** Connects one client: starts its server, then serves the client until either side ends. */
  serve(downstream: MessageTransport): Promise<ServedSession>;
  /** Ends every session and its server. */
  close(): Promise<void>;
}

/** A session of one server that an in-process caller (the gateway) can also call directly. */
export interface DirectSession extends ServedSession {
  call(input: DirectCall): Promise<DirectOutcome>;
}

/** The bridge of one server: its sessions take direct calls too. */
export interface SingleBridge extends Bridge {
  serve(downstream: MessageTransport): Promise<DirectSession>;
}

export function createBridge(options: BridgeOptions): SingleBridge {
  const policy = lazyPolicy(options.policy ?? defaultPolicyEngine);
  // Pins are always kept (in memory when no file is given): receipts name each tool's definition digest.
  // One set per server, shared by its sessions: a definition differing from its pin is a rug pull.
  const pins = options.pins ?? new ToolPins();
  // Each session's own gate: the same checks, but its own listing of argument names (listed-arguments.ts),
  // since each session has its own server process, whose tools/list may differ by its state.
  const sessionGate = (): GateParts => ({
    pins,
    listed: new ListedArguments(),
    ...(options.tools === undefined ? {} : { tools: options.tools }),
    // The default policy's Cedar engine takes most of a second to build: built at its first use
    // (the first tools/call or server request), so starting and listing tools do not wait for it.
    // Reading it throws when the build failed: every reader is inside a check, where that is a deny.
    get policy() {
      return policy();
    },
    ...(options.approval === undefined ? {} : { approval: options.approval }),
    ...(options.quota === undefined ? {} : { quota: options.quota }),
    ...(options.learn === undefined ? {} : { learn: options.learn }),
  });
  const recorder = options.recorder ?? callRecorder(options.receipts);
  // One store for every session of the bridge: a nonce used in one session is a replay in all.
  const nonces = options.nonces ?? new InMemoryNonceStore();
  // One limiter for every session of the server: a flood from many sessions is bounded too.
  const refusals = bridgeRefusals(
    options.refusalReceipts ?? DEFAULT_REFUSAL_RECEIPT_LIMITS,
    options.refusalClock,
  );
  const sessions = new Set<BridgeSession>();
  let served = 0;
  return {
    async serve(downstream) {
      const label = `session ${++served}`;
      const onEvent = options.onEvent;
      const session = new BridgeSession(
        {
          connector: options.upstream,
          gate: sessionGate(),
          recorder,
          ...(options.agent === undefined ? {} : { agent: options.agent }),
          ...(options.restart === undefined ? {} : { restart: options.restart }),
          ...(onEvent === undefined ? {} : { onEvent: (event: BridgeEvent) => onEvent(event, label) }),
          nonces,
          ...(options.limits === undefined ? {} : { limits: options.limits }),
          ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
          refusals: { limiter: refusals.limiter, session: label },
        },
        downstream,
      );
      await session.open();
      sessions.add(session);
      void session.closed.then(() => sessions.delete(session));
      return session;
    },
    async close() {
      await Promise.allSettled([...sessions].map((session) => session.close()));
      // The window still open is summed up in its receipt before the log can close.
      await refusals.close();
    },
  };
}

/**
 * The policy, built once at first use. A build that fails stays failed (no
 * retry on every call, no call let through meanwhile): each read throws why.
 */
function lazyPolicy(source: PolicyEngine | (() => PolicyEngine)): () => PolicyEngine {
  if (typeof source !== 'function') return () => source;
  let built: { readonly engine: PolicyEngine } | { readonly failure: string } | undefined;
  return () => {
    if (built === undefined) {
      try {
        built = { engine: source() };
      } catch (error) {
        built = { failure: error instanceof Error ? error.message : String(error) };
      }
    }
    if ('failure' in built) throw new Error(`the Cedar policy could not be built: ${built.failure}`);
    return built.engine;
  };
}
