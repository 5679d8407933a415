import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OacpApiError, OacpClient } from '../../../src/client/index.js';
import { sha256Hex } from '../../../src/core/digest.js';
import { canonicalize } from '../../../src/core/jcs.js';
import { KeyStore } from '../../../src/identity/keystore.js';
import { openCheckpoint } from '../../../src/log/checkpoint.js';
import { OfflineVerifier } from '../../../src/verify/offline-verifier.js';
import { rootFromTiles } from '../../log/tile-client.js';
import { adminKey, type ChildGateway, startChild, writeConfig } from './child-gateway.js';
import { freshHome } from './node-home.js';

const ROUNDS = 2;

async function inParallel<T>(
  items: readonly T[],
  work: (item: T) => Promise<void>,
  width = 16,
): Promise<number> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
        done += 1;
      }
    }),
  );
  return done;
}

/**
 * The gateway is SIGKILLed while clients call tools through it, then
 * restarted on the same home, twice. Every receipt a client was given
 * must be in the log byte for byte, the log must verify (signed checkpoint,
 * tiles that hash to its root, an inclusion proof per receipt), and the
 * agent's quota must count the allowed calls the log holds (plus those in flight at a kill).
 */
describe('gateway crash (kill -9 under load)', () => {
  const cleanup: Array<() => void> = [];
  afterAll(() => {
    for (const step of cleanup) step();
  });

  it('loses no acknowledged receipt, keeps a verifiable log and consistent quota counters', async () => {
    const began = Date.now();
    const home = await freshHome('oacp-gw-crash-');
    cleanup.push(home.remove);
    const env = { ...home.env, MEMORY_FILE_PATH: join(home.home, 'memory.jsonl') };
    const config = writeConfig(home.home, env.MEMORY_FILE_PATH);
    const key = await adminKey(home.home);
    const acked = new Map<number, string>();
    let agentId = '';
    let child: ChildGateway | undefined;

    for (let round = 0; round < ROUNDS; round++) {
      child = await startChild(home.home, config, env);
      const current = child;
      cleanup.push(() => current.process.kill('SIGKILL'));
      const client = new OacpClient({ baseUrl: child.url, apiKey: key });
      if (agentId === '') {
        const agent = await client.createAgent({
          name: 'loader',
          manifest: {
            apiVersion: 'oacp.dev/v1',
            kind: 'CapabilityManifest',
            name: 'loader',
            capabilities: { tools: { allow: ['memory__*'] } },
          },
        });
        agentId = agent.id;
      }
      // Load: 8 callers in a loop until the process dies under them.
      let stop = false;
      const target = acked.size + 100;
      const worker = async () => {
        while (!stop) {
          try {
            const { receipt } = await client.callTool('memory__read_graph', {}, { agent: agentId });
            acked.set(receipt.index, receipt.envelopeDigest);
          } catch (error) {
            if (error instanceof OacpApiError && error.code === 'CLIENT_UNREACHABLE') return;
            if (error instanceof OacpApiError && error.status === 0) return;
            if (!(error instanceof OacpApiError)) return;
          }
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      await expect.poll(() => acked.size, { timeout: 60_000, interval: 5 }).toBeGreaterThanOrEqual(target);
      current.process.kill('SIGKILL');
      await current.exited;
      stop = true;
      await Promise.all(workers);
    }

    // Restart once more and audit.
    child = await startChild(home.home, config, env);
    const final = child;
    cleanup.push(() => final.process.kill('SIGKILL'));
    const client = new OacpClient({ baseUrl: child.url, apiKey: key });
    const keys = KeyStore.open(home.home, env);
    const logKey = (await client.receipt(0)).logKey;
    const verifier = new OfflineVerifier({ airlockKeys: [keys.airlockSigner().publicKey], logKey });
    expect(acked.size).toBeGreaterThanOrEqual(ROUNDS * 100);
    const audited = await inParallel([...acked], async ([index, digest]) => {
      const fetched = await client.receipt(index);
      expect(sha256Hex(canonicalize(fetched.envelope))).toBe(digest);
      const verdict = verifier.verify(JSON.stringify(fetched.envelope), fetched.proof);
      expect(verdict.ok, `${index}: ${JSON.stringify(verdict.checks.filter((c) => !c.ok))}`).toBe(true);
    });
    expect(audited).toBe(acked.size);

    const health = await client.health();
    const checkpoint = await client.checkpoint();
    const opened = openCheckpoint(checkpoint, logKey);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const size = opened.value.checkpoint.size;
    expect(size).toBe(health.logSize);
    expect(Buffer.from(rootFromTiles(join(home.home, 'log'), size))).toEqual(
      Buffer.from(opened.value.checkpoint.root),
    );

    // The quota kept in the store counts every allowed call the log holds for the agent, plus at most
    // the calls in flight at each kill (charged before they ran; the safe side: never a fresh quota).
    let logged = 0;
    let interrupted = 0;
    await inParallel(
      Array.from({ length: size }, (_, index) => index),
      async (index) => {
        const { envelope } = await client.receipt(index);
        const statement = JSON.parse(Buffer.from(String(envelope.payload), 'base64').toString('utf8'));
        if (statement.predicate?.agent?.did === agentId && statement.predicate?.policy?.effect === 'allow')
          logged += 1;
        if (statement.predicate?.agent?.did === agentId && statement.predicate?.outcome === 'interrupted')
          interrupted += 1;
      },
    );
    // The calls a kill cut short have their receipt too (outcome interrupted, from the intent journal
    // at the restart): at most one per caller in flight at each kill.
    expect(interrupted).toBeLessThanOrEqual(8 * ROUNDS);
    const quota = await client.quota(agentId);
    // The hourly bucket refills as the test runs (1,000 an hour by default): what it gave back is not
    // a lost charge. Before the intents the in-flight calls had no receipt, which hid this.
    const refilled = Math.ceil(((Date.now() - began) * 1000) / 3_600_000);
    expect(quota.toolCalls).toBeGreaterThanOrEqual(logged - refilled);
    expect(quota.toolCalls).toBeLessThanOrEqual(logged + 8 * ROUNDS);
    expect(quota.toolCalls).toBeGreaterThanOrEqual(acked.size);
    final.process.kill('SIGTERM');
    await final.exited;
  }, 240_000);
});
