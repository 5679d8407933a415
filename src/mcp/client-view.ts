import type { ApprovalChannels } from './approval.js';

/**
 * What the bridge learned about its client from `initialize`: who it says it
 * is, what it supports, and the exact params, which a restarted server is
 * given again.
 */
export class ClientView {
  #params: Record<string, unknown> | undefined;
  #initialized = false;

  sawInitialize(params: Record<string, unknown> | undefined): void {
    this.#params = params ?? {};
  }

  sawInitialized(): void {
    this.#initialized = true;
  }

  get initializeParams(): Record<string, unknown> | undefined {
    return this.#params;
  }

  get initialized(): boolean {
    return this.#initialized;
  }

  get name(): string | undefined {
    const name = this.#info()?.name;
    return typeof name === 'string' ? name : undefined;
  }

  /** The client as a receipt records it. */
  record(): { client?: { name: string; version: string } } {
    const info = this.#info();
    if (typeof info?.name !== 'string') return {};
    return { client: { name: info.name, version: typeof info.version === 'string' ? info.version : '' } };
  }

  /** Who is asking, for the approver's message; never a way to ask them (see ApprovalChannels). */
  approvalChannels(): ApprovalChannels {
    const name = this.name;
    return name === undefined ? {} : { clientName: name };
  }

  #info(): Record<string, unknown> | undefined {
    const info = this.#params?.clientInfo;
    return typeof info === 'object' && info !== null ? (info as Record<string, unknown>) : undefined;
  }
}
