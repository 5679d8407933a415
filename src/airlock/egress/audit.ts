import { ANSWER_MAX, echoText } from '../../core/redact.js';

/** One egress decision as it is kept for receipts and shown to the user. */
export interface EgressEvent {
  /** ISO 8601 time of the decision. */
  readonly at: string;
  readonly effect: 'allow' | 'deny';
  readonly reason: string;
  /** `CONNECT` or the plain-HTTP method. */
  readonly method: string;
  readonly host: string;
  readonly port: number;
  /** The address connected to (allow) or the one that was refused (deny after DNS). */
  readonly address?: string;
}

/** Decisions of one proxy, in order, plus the counters `Usage` needs. */
export class EgressAudit {
  private readonly list: EgressEvent[] = [];

  constructor(private readonly onEvent?: (event: EgressEvent) => void) {}

  /**
   * Keeps `event` with its reason passed through the one redactor and cut
   * (echoText): a reason may quote what the workload sent or a resolver's error
   * (a URL with credentials, a token in a query), and events reach receipts and logs.
   */
  record(event: EgressEvent): void {
    const kept = { ...event, reason: echoText(event.reason, ANSWER_MAX) };
    this.list.push(kept);
    this.onEvent?.(kept);
  }

  get events(): readonly EgressEvent[] {
    return this.list;
  }

  get requests(): number {
    return this.list.length;
  }

  get denied(): number {
    return this.list.filter((event) => event.effect === 'deny').length;
  }
}
