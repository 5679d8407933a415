import type { CheckpointGossip } from '../../cluster/gossip-service.js';
import type { HostGuard } from '../../core/loopback.js';
import type { SecretValues } from '../../core/secret-values.js';
import type { ServedTile } from '../../log/transparency-log.js';
import type { CredentialVault } from '../credentials/credential-vault.js';
import type { BatchFiles } from '../models/batch-files.js';
import type { ModelBatches } from '../models/batch-jobs.js';
import type { ModelsSection } from '../models/config.js';
import type { ModelGateway } from '../models/model-gateway.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { Logger } from '../observability/logger.js';
import type { Tracing } from '../observability/tracing.js';
import type { AgentDirectory } from '../runtime/agent-directory.js';
import type { AgentRuntime } from '../runtime/agent-runtime.js';
import type { GatewayApprovalQueue } from '../runtime/approval-queue.js';
import type { ContextAccess } from '../runtime/context-access.js';
import type { GatewayCluster } from '../runtime/gateway-cluster.js';
import type { GatewayQuotas } from '../runtime/quotas.js';
import type { ToolCaller } from '../runtime/tool-caller.js';
import type { ToolRegistry } from '../runtime/tool-registry.js';
import type { Authenticator } from './auth.js';

/** The log as the public read-only routes need it (TransparencyLog is one). */
export interface PublicLog {
  readonly size: number;
  readonly verifierKey: string;
  entry(index: number): Promise<Uint8Array>;
  proofFile(index: number): Promise<string>;
  /** RFC 9162 consistency proof between two sizes, for gossiping peers (GET /v1/log/consistency). */
  consistencyProof?(oldSize: number, newSize: number): Uint8Array[];
  /**
   * Catches up on records other processes on this home appended (their rounds may publish a larger
   * checkpoint; the receipt stream calls it when the log file changes).
   */
  refresh?(): Promise<void>;
  /** Checks a tile read from disk (undefined: not there) against the tree before it is served. */
  checkTile(path: string, bytes: Uint8Array | undefined): Promise<ServedTile>;
}

/** Everything the HTTP routes use; built by createGateway, or by hand in tests. */
export interface GatewayServices {
  readonly agents: AgentDirectory;
  readonly runtime: AgentRuntime;
  readonly registry: ToolRegistry;
  readonly tools: ToolCaller;
  readonly context: ContextAccess;
  readonly quotas: GatewayQuotas;
  /** Set when oacp.yaml has `cluster`: placement on etcd (docs/cluster.md). */
  readonly cluster?: GatewayCluster;
  /** Checkpoint gossip and cosigning with peers (`log.peers`, cluster members). */
  readonly gossip?: CheckpointGossip;
  readonly auth: Authenticator;
  /** Tool credentials; the credentials routes answer 404 without it. */
  readonly credentials?: CredentialVault;
  readonly log: PublicLog;
  /** The log directory (c2sp tiles and the published checkpoint), served read-only. */
  readonly logDir: string;
  readonly origin: string;
  /** The Airlock's public keys, to verify receipts in the audit view (GET /v1/receipts). */
  readonly airlockKeys?: readonly Uint8Array[];
  readonly metrics: GatewayMetrics;
  readonly tracing: Tracing;
  readonly logger: Logger;
  /** The live secret values the credential vault handed out: every error answer is masked of them. */
  readonly secrets?: SecretValues;
  /** Serve /metrics without authentication (for a scraper on a private network). */
  readonly publicMetrics?: boolean;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Bytes of request bodies read at once over every connection (default 16 of the largest); past it, 503. */
  readonly maxBodyBytesInFlight?: number;
  /** The Host check of the listener (core/loopback.ts hostGuardFor); none accepts every Host. */
  readonly hostGuard?: HostGuard;
  /** The model leg (/v1/chat/completions, /v1/messages, …); absent: those routes answer 404. */
  readonly models?: {
    readonly gateway: ModelGateway;
    readonly config: ModelsSection;
    readonly batches: ModelBatches;
    /** Uploaded batch input files (`POST /v1/files`). */
    readonly files: BatchFiles;
  };
  /** Calls waiting for an operator's approval (`require_approval`); the approval routes answer 404 without it. */
  readonly approvals?: GatewayApprovalQueue;
  /** The built web console (dist/ui); default: the package's own. */
  readonly consoleDir?: string;
}
