import { OacpError } from '../../core/errors.js';
import type { ContextVault } from '../vault/context-vault.js';

/**
 * An agent's context as JSON values. The vault stores bytes; values travel as
 * their JSON text, so what an agent puts is exactly what it gets back.
 * `actor` is recorded in the vault's access log (an agent id, `apikey:<id>`).
 */
export interface ContextAccess {
  get(agentId: string, key: string, actor: string): Promise<unknown | undefined>;
  put(agentId: string, key: string, value: unknown, actor: string): Promise<void>;
}

export function vaultContext(vault: ContextVault): ContextAccess {
  return {
    async get(agentId, key, actor) {
      const text = await vault.getText(agentId, key, { actor });
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new OacpError('RUNTIME_CONTEXT_CORRUPT', `context entry "${key}" is not JSON`);
      }
    },
    put: (agentId, key, value, actor) => vault.put(agentId, key, JSON.stringify(value ?? null), { actor }),
  };
}

/** In-memory context for tests and embedding without a store. */
export class MemoryContext implements ContextAccess {
  private readonly values = new Map<string, string>();

  async get(agentId: string, key: string): Promise<unknown | undefined> {
    const text = this.values.get(`${agentId}\u0000${key}`);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  }

  async put(agentId: string, key: string, value: unknown): Promise<void> {
    this.values.set(`${agentId}\u0000${key}`, JSON.stringify(value ?? null));
  }
}
