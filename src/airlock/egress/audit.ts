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

  record(event: EgressEvent): void {
    this.list.push(event);
    this.onEvent?.(event);
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
