import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QuotaEngine } from '../../../src/airlock/quota/engine.js';
import { ModelBudget } from '../../../src/gateway/models/budget.js';
import { ModelsSectionSchema } from '../../../src/gateway/models/config.js';
import { ModelGateway } from '../../../src/gateway/models/model-gateway.js';
import { chatCompletions } from '../../../src/gateway/models/openai-wire.js';
import { Providers } from '../../../src/gateway/models/providers.js';
import { GatewayMetrics } from '../../../src/gateway/observability/gateway-metrics.js';
import { Tracing } from '../../../src/gateway/observability/tracing.js';
import type { GatewayPolicy } from '../../../src/gateway/runtime/policy/gateway-policy.js';
import { ReceiptRecorder } from '../../../src/gateway/runtime/receipt-recorder.js';
import { ReceiptSlot } from '../../../src/mcp/receipt-slot.js';
import { type StandIn, startStandIn } from './stand-in-provider.js';

/** Every part below the receipt check refuses to be used: the call must stop before any of them. */
const untouchable = <T extends object>(name: string): T =>
  new Proxy({} as T, {
    get: () => {
      throw new Error(`${name} was used although the log could not take a receipt`);
    },
  });

describe('model gateway when the log cannot take a receipt', () => {
  let provider: StandIn;
  beforeAll(async () => {
    provider = await startStandIn('never');
  });
  afterAll(async () => {
    await provider?.close();
  });

  it('answers 503 and sends nothing, checks nothing and reserves nothing', async () => {
    const config = ModelsSectionSchema.parse({
      providers: [{ name: 'never', kind: 'openai', base_url: `${provider.url}/v1` }],
    });
    const providers = new Providers(config);
    // A filesystem can never have this much free: the slot refuses, as on a full disk.
    const slot = new ReceiptSlot({ dir: tmpdir(), minFreeBytes: Number.MAX_SAFE_INTEGER });
    const gateway = new ModelGateway({
      config,
      providers,
      budget: new ModelBudget(untouchable<QuotaEngine>('the quota engine'), { tokensPerHour: 10 }),
      globalPolicy: untouchable<GatewayPolicy>('the global policy'),
      receipts: new ReceiptRecorder(untouchable('the log'), new GatewayMetrics('test'), slot),
      metrics: new GatewayMetrics('test'),
      tracing: Tracing.create(),
      secretsFor: () => {
        throw new Error('a provider key was read although nothing may be sent');
      },
    });
    try {
      const answer = await gateway.call(
        chatCompletions,
        {
          did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
          name: 'agent',
          manifest: untouchable('the manifest'),
          attributes: {},
          lineage: ['did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'],
          signed: false,
        },
        { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] },
      );
      expect(answer).toMatchObject({ kind: 'json', status: 503 });
      expect(JSON.stringify(answer.kind === 'json' ? answer.body : '')).toContain(
        'the receipt log cannot append',
      );
      expect(provider.received).toHaveLength(0);
    } finally {
      await providers.close();
    }
  });
});
