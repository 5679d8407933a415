/** Something a security reviewer should see even though no call was made. */
export type SecurityEvent = {
  readonly type: 'tool-definition-changed';
  readonly server: string;
  readonly tool: string;
  readonly pinnedDigest: string;
  readonly observedDigest: string;
  readonly at: string;
};

export interface SecurityEventSink {
  emit(event: SecurityEvent): void;
}

/** Keeps events in memory: the default when nobody listens, and what tests read. */
export class MemoryEventSink implements SecurityEventSink {
  readonly events: SecurityEvent[] = [];
  emit(event: SecurityEvent): void {
    this.events.push(event);
  }
}
