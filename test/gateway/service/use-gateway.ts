import { afterAll, beforeAll } from 'vitest';
import { type StartOptions, startGateway, type TestGateway } from './harness.js';

/**
 * The describe block's gateway: started (startGateway with `options`) in a beforeAll this
 * registers, closed in its afterAll. Read it in hooks and tests only; before the beforeAll
 * has run, reading it throws.
 */
export function useGateway(options: StartOptions = {}, timeoutMs?: number): TestGateway {
  let started: TestGateway | undefined;
  beforeAll(async () => {
    started = await startGateway(options);
  }, timeoutMs);
  afterAll(async () => {
    await started?.close();
  });
  const current = (): TestGateway => {
    if (started === undefined) throw new Error('useGateway: the gateway is read before its beforeAll ran');
    return started;
  };
  return {
    get gateway() {
      return current().gateway;
    },
    get url() {
      return current().url;
    },
    get home() {
      return current().home;
    },
    get adminKey() {
      return current().adminKey;
    },
    get client() {
      return current().client;
    },
    clientAs: (signer) => current().clientAs(signer),
    keyWith: (scopes) => current().keyWith(scopes),
    close: () => current().close(),
  };
}
