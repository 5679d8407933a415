/**
 * What the embedder gives a code sandbox to reach the outside world. Each
 * binding is optional; a guest only sees the matching function when the
 * binding exists AND the manifest grants it (tools need `tools.allow`, fetch
 * needs `network.allowlist`, models need `models.allow`). Every call is checked against the manifest and
 * the quotas before the binding runs, and every value is plain JSON: a
 * binding never receives a guest object and the guest never receives a host one.
 */
export interface HostBindings {
  readonly callTool?: (name: string, args: unknown) => Promise<unknown>;
  readonly contextGet?: (key: string) => Promise<unknown>;
  readonly contextPut?: (key: string, value: unknown) => Promise<void>;
  /** Should go through the egress proxy, which re-checks resolved addresses (DNS rebinding). */
  readonly fetch?: (request: GuestFetchRequest) => Promise<GuestFetchResponse>;
  readonly log?: (entry: GuestLogEntry) => void;
  /**
   * `oacp.models.chat(request)`: an OpenAI Chat Completions request, answered
   * by the model gateway's own pipeline (allowlist, Cedar, budgets, receipt);
   * the guest never holds a provider key. Resolves with the completion.
   */
  readonly modelsChat?: (request: Readonly<Record<string, unknown>>) => Promise<unknown>;
}

export interface GuestFetchRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface GuestFetchResponse {
  readonly status: number;
  readonly statusText?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface GuestLogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
}
