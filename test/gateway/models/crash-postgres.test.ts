import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../../store/postgres-server.js';
import { startChild } from '../service/child-gateway.js';
import { freshHome } from '../service/node-home.js';
import { modelsConfig, receiptOutcomes, startModelChild } from './model-fixture.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

const BUDGET = 5000;
const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.warn(`PostgreSQL model crash tests skipped: ${unavailable}`);

/**
 * Two gateways on one PostgreSQL store; one is killed (kill -9) while a model
 * call it reserved budget for is at the provider. The reservation is neither
 * held by a lock nor credited back: the other gateway sees it spent at once
 * and clamps a large request to what is left beside it, and the killed
 * node's restart records the interrupted call's receipt.
 */
describe.skipIf(unavailable !== undefined)(
  'model budget on PostgreSQL when a gateway is killed mid-call',
  () => {
    const cleanup: Array<() => void | Promise<void>> = [];
    let server: PostgresServer | undefined;
    afterAll(async () => {
      for (const step of cleanup.reverse()) await step();
      await server?.stop();
    });

    it('attack: the killed gateway’s reservation stays spent for the other gateway, and its receipt comes with its restart', async () => {
      const started = await startPostgres({ durableCommits: true });
      if ('skipped' in started)
        throw new Error(`the PostgreSQL test server did not start: ${started.skipped}`);
      server = started;
      const url = await server.createDatabase();
      const provider: StandIn = await startStandIn('slow');
      cleanup.push(() => provider.close());
      const models = {
        providers: [{ name: 'slow', kind: 'openai', base_url: `${provider.url}/v1`, max_retries: 0 }],
        budgets: { tokens_per_hour: BUDGET },
      };
      const a = await startModelChild('oacp-model-pg-crash-a-', models, cleanup, url);
      const otherHome = await freshHome('oacp-model-pg-crash-b-');
      cleanup.push(otherHome.remove);
      const otherConfig = join(otherHome.home, 'oacp.yaml');
      writeFileSync(otherConfig, stringify({ ...modelsConfig(models, []), gateway: { store: url } }));
      const b = await startChild(otherHome.home, otherConfig, otherHome.env);
      cleanup.push(() => {
        b.process.kill('SIGKILL');
      });
      const call = (at: URL, maxTokens: number) =>
        fetch(new URL('/v1/chat/completions', at), {
          method: 'POST',
          headers: { authorization: `Bearer ${a.agentKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'm',
            messages: [{ role: 'user', content: 'hello' }],
            max_tokens: maxTokens,
          }),
        });

      provider.queue('slow');
      const inFlight = call(a.child.url, 1000).catch(() => undefined);
      for (let i = 0; i < 200 && provider.received.length === 0; i++)
        await new Promise((r) => setTimeout(r, 25));
      expect(provider.received).toHaveLength(1);
      a.child.process.kill('SIGKILL');
      await a.child.exited;
      await inFlight;
      const reserved = await a.usedTokens(BUDGET);
      expect(reserved).toBeGreaterThan(1000);

      // Asked for nearly the whole budget, the live gateway clamps the cap to what is left after the
      // killed call's reservation: had it been given back (or were it lost), the cap would be larger.
      const clamped = await call(b.url, BUDGET - 200);
      expect(clamped.status).toBe(200);
      const sent = provider.received[1]?.body as { max_tokens?: number } | undefined;
      expect(sent?.max_tokens).toBeGreaterThan(0);
      expect(sent?.max_tokens).toBeLessThanOrEqual(BUDGET - reserved);
      b.process.kill('SIGTERM');
      await b.exited;
      expect(await a.usedTokens(BUDGET)).toBe(reserved + 21);

      // The killed node, started again on its home, records the interrupted call from its intent.
      await a.restart();
      a.child.process.kill('SIGTERM');
      await a.child.exited;
      expect(await receiptOutcomes(a.home)).toEqual([{ outcome: 'interrupted', reservedTokens: reserved }]);
    }, 180_000);
  },
);
