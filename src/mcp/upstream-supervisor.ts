import type { JsonRpcId } from './jsonrpc.js';
import { RestartBudget, type RestartPolicy } from './restart-budget.js';
import type { UpstreamConnector, UpstreamLink } from './upstream.js';

/** What the supervisor tells the session, and asks of it. */
export interface SupervisorHooks {
  /** A message from the link of `generation` (stale generations are filtered out here). */
  message(message: unknown): void;
  invalid(id: JsonRpcId | null, reason: string): void;
  /** The server went away: fail whatever was waiting on it. */
  ended(reason: string): Promise<void>;
  /** A new link is up: bring it to the session's state (the client's initialize, replayed). */
  prepare(): Promise<void>;
  restarted(attempt: number): void;
  restartFailed(attempt: number, reason: string): void;
  /** The budget is spent: the session reports it and ends. */
  gaveUp(reason: string, attempts: number): Promise<void>;
  closing(): boolean;
}

/**
 * Keeps one upstream server running for a session, apart from the call flow:
 * connects, numbers each link (a generation, so late messages of a dead link
 * are dropped), and restarts a server that went away within the session's
 * RestartBudget; a server dying while being restarted is that restart's failure.
 */
export class UpstreamSupervisor {
  readonly #connector: UpstreamConnector;
  readonly #hooks: SupervisorHooks;
  readonly #budget: RestartBudget;
  #link: UpstreamLink | undefined;
  #generation = 0;
  #restarting = false;

  constructor(connector: UpstreamConnector, policy: RestartPolicy, hooks: SupervisorHooks) {
    this.#connector = connector;
    this.#budget = new RestartBudget(policy);
    this.#hooks = hooks;
  }

  get link(): UpstreamLink | undefined {
    return this.#link;
  }

  get generation(): number {
    return this.#generation;
  }

  /** The server answered something: it is up, and the restart budget is whole again. */
  alive(): void {
    this.#budget.alive();
  }

  async connect(): Promise<void> {
    const link = await this.#connector.connect();
    const generation = ++this.#generation;
    this.#link = link;
    link.transport.onmessage = (message) => {
      if (generation === this.#generation) this.#hooks.message(message);
    };
    link.transport.oninvalid = (id, _code, reason) => {
      if (generation === this.#generation) this.#hooks.invalid(id, reason);
    };
    link.transport.onerror = () => undefined;
    void link.ended.then((reason) => this.#ended(generation, reason));
    await link.transport.start();
  }

  /** Stops the current server; no restart follows. */
  async stop(): Promise<void> {
    const link = this.#link;
    this.#link = undefined;
    await link?.stop();
  }

  async #ended(generation: number, reason: string): Promise<void> {
    if (this.#hooks.closing() || generation !== this.#generation) return;
    await this.#hooks.ended(reason);
    if (this.#restarting) return;
    this.#restarting = true;
    let last = reason;
    try {
      for (let step = this.#budget.next(); step !== undefined; step = this.#budget.next()) {
        await new Promise((resolve) => setTimeout(resolve, step?.delayMs).unref());
        if (this.#hooks.closing()) return;
        try {
          await this.connect();
          await this.#hooks.prepare();
          this.#hooks.restarted(step.attempt);
          return;
        } catch (error) {
          last = error instanceof Error ? error.message : String(error);
          this.#hooks.restartFailed(step.attempt, last);
          await this.#link?.stop().catch(() => undefined);
        }
      }
    } finally {
      this.#restarting = false;
    }
    if (!this.#hooks.closing()) await this.#hooks.gaveUp(last, this.#budget.attempts);
  }
}
