import { CONNECTION_CLOSED, errorResponse } from './jsonrpc.js';
import { type ListingOutcome, PinRefresher } from './pin-refresher.js';
import type { ServerTraffic } from './server-traffic.js';
import { isToolCall } from './session-pending.js';
import { failure, type SessionWire } from './session-wire.js';
import { processToolList } from './tool-list.js';
import type { SupervisorHooks } from './upstream-supervisor.js';

const REPLAY_TIMEOUT_MS = 30_000;

/**
 * The session's side of keeping the server running (UpstreamSupervisor keeps
 * the link): what happens when the server goes away (everything waiting on it
 * is failed, tool calls with their receipts first), comes back (the client's
 * initialize replayed, tools re-pinned) or cannot be kept (the session ends,
 * saying why).
 */
export class SessionSupervision {
  readonly pins: PinRefresher;

  constructor(
    private readonly wire: SessionWire,
    private readonly traffic: ServerTraffic,
    private readonly close: () => Promise<void>,
  ) {
    this.pins = new PinRefresher(
      async (cursor) => {
        const result = await wire.askServer(
          'tools/list',
          cursor === undefined ? {} : { cursor },
          wire.timeoutMs,
        );
        processToolList(result, wire.parts.connector.identity.name, wire.parts.gate);
        return result;
      },
      (reason) => {
        if (!wire.ready.closing) wire.event({ type: 'pin-refresh-failed', reason });
      },
      (tools) => wire.parts.gate.listed?.retain(tools),
    );
  }

  /** Lists the server's tools itself so every definition is pinned before it can be called. */
  refreshPins(): void {
    const { pins, listed } = this.wire.parts.gate;
    if ((pins === undefined && listed === undefined) || !this.wire.ready.ready) return;
    void this.pins.refresh();
  }

  /**
   * The bridge's own listing for a call to a tool it has no listing of (PinRefresher.fresh), once
   * the server is up; a session closing meanwhile is a failed listing, saying why.
   */
  listTools(): Promise<ListingOutcome> {
    return new Promise((resolve) =>
      this.wire.ready.when(
        () => resolve(this.pins.fresh()),
        (reason) => resolve({ ok: false, reason }),
      ),
    );
  }

  hooks(): SupervisorHooks {
    const { wire } = this;
    return {
      message: (message) => this.traffic.message(message, wire.upstream().generation),
      invalid: (id, reason) => this.traffic.invalid(id, reason),
      ended: async (reason) => {
        wire.ready.pause();
        wire.event({ type: 'upstream-ended', reason });
        await this.failPending(`upstream server is gone (${reason}); the bridge is restarting it`);
      },
      prepare: () => this.#replayInitialize(),
      restarted: (attempt) => {
        wire.event({ type: 'upstream-restarted', attempt });
        wire.ready.open();
        this.refreshPins();
      },
      restartFailed: (attempt, reason) => {
        wire.ready.pause();
        wire.event({ type: 'upstream-restart-failed', attempt, reason });
      },
      gaveUp: async (reason, attempts) => {
        wire.ready.fail(
          `the upstream server could not be kept running (${attempts} restarts failed; last: ${reason})`,
        );
        wire.event({ type: 'upstream-gave-up', reason });
        await this.close();
      },
      closing: () => wire.ready.closing,
    };
  }

  /**
   * Fails every request waiting on the server; a tool call's receipt is written before its caller
   * hears. Server requests waiting on the client are dropped, each policed one with its receipt.
   */
  async failPending(reason: string): Promise<void> {
    const { wire } = this;
    const finishing: Promise<unknown>[] = [];
    for (const [id, entry] of wire.pending.takeAllUp()) {
      if (entry.kind === 'internal') {
        entry.settle(errorResponse(id, CONNECTION_CLOSED, reason));
        continue;
      }
      if (isToolCall(entry)) {
        finishing.push(
          wire
            .flow()
            .finish({
              call: entry.call,
              outcome: 'server-gone',
              // It was sent: the server may have run it before it went away.
              forwarded: true,
              error: { code: CONNECTION_CLOSED, message: reason },
            })
            .then((receipt) => wire.replyTo(entry, failure(CONNECTION_CLOSED, reason, receipt))),
        );
        continue;
      }
      wire.sendDown(errorResponse(entry.clientId, CONNECTION_CLOSED, reason));
    }
    // A policed server request the client never answered was still permitted and passed on (the
    // client may have asked its model or its user): it gets its receipt too.
    for (const entry of wire.pending.takeAllDown()) {
      if (entry.call === undefined) continue;
      finishing.push(
        wire.flow().finish({
          call: entry.call,
          outcome: 'server-gone',
          forwarded: true,
          error: { code: CONNECTION_CLOSED, message: reason },
        }),
      );
    }
    await Promise.allSettled(finishing);
  }

  /** A restarted server knows nothing of the session: it gets the client's initialize again. */
  async #replayInitialize(): Promise<void> {
    const params = this.wire.client.initializeParams;
    if (params === undefined) return;
    await this.wire.askServer('initialize', params, REPLAY_TIMEOUT_MS);
    if (this.wire.client.initialized)
      this.wire.sendUp({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }
}
