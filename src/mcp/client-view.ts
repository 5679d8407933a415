import { boundedName } from '../core/clip-text.js';
import type { ApprovalChannels } from './approval.js';

/** Longest client name kept as given: `client:<name>` must fit a receipt's 256-character clientId. */
const MAX_CLIENT_NAME = 200;

/**
 * The client's self-chosen name as every receipt, policy and prompt shows it: as given up to
 * 200 characters, else its first 160 characters, `…` and 16 hex digits of the whole name's
 * sha256 (still telling long names apart). The client picks it (unauthenticated), and a receipt
 * that cannot hold it could only fail after the call had run.
 */
export function boundedClientName(name: string): string {
  return boundedName(name, MAX_CLIENT_NAME, 160);
}

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

  /** `clientInfo.name`, bounded (see boundedClientName); undefined when absent or empty. */
  get name(): string | undefined {
    const name = this.#info()?.name;
    return typeof name === 'string' && name !== '' ? boundedClientName(name) : undefined;
  }

  /** The client as a receipt records it. */
  record(): { client?: { name: string; version: string } } {
    const info = this.#info();
    const name = this.name;
    if (name === undefined) return {};
    const version = typeof info?.version === 'string' ? boundedClientName(info.version) : '';
    return { client: { name, version } };
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
