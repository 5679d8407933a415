/**
 * The audit view of the log, as `GET /v1/receipts` and the receipt stream
 * serve it: types only, shared by the Node side that builds it
 * (src/node/audit-view.ts) and the browser console that reads it (the web
 * build cannot import Node modules, and nothing here is code).
 */

/** One log entry as a person auditing the node reads it. Strings come from the log: escape before printing. */
export interface AuditEntry {
  readonly index: number;
  readonly kind: 'tool-call' | 'execution' | 'model-call' | 'unreadable';
  readonly time?: string;
  readonly caller?: string;
  readonly server?: string;
  readonly tool?: string;
  readonly decision?: 'allow' | 'deny';
  readonly reason?: string;
  readonly policyId?: string;
  readonly tier?: string;
  readonly durationMs?: number;
  /** Every receipt check passed with this home's Airlock key. */
  readonly verified: boolean;
  /** The trust level when verified, else the first failed check. */
  readonly verification: string;
}

export interface AuditPage {
  readonly entries: readonly AuditEntry[];
  /** Pass as `before` for the next (older) page; absent on the last page. A page may hold fewer than `limit` entries (at most MAX_SCAN are read per page) and still have a next. */
  readonly next?: number;
  readonly logSize: number;
}
