import { randomUUID } from 'node:crypto';
import { type AgentCard, verifyAgentCardSignature } from '@a2a-js/sdk';
import { ClientFactory, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { importJWK } from 'jose';
import { checkAgentCard } from '../../src/a2a/card-check.js';
import { connectA2aAgent, fetchAgentCard } from '../../src/a2a/client.js';
import { generateEd25519, keySigner } from '../../src/core/ed25519.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../../src/identity/did-key.js';
import { startNode } from '../../test/a2a/harness.js';
import { startPlainServer } from '../../test/a2a/plain-server.js';
import { plainRequest } from '../../test/a2a/signed-message.js';
import { type BenchCase, figure, latencies, percentile, syncThroughput, throughput } from '../harness.js';

const CALLS = 200;
const CARD_CHECKS = 5_000;

/**
 * One message, sent and answered, over loopback HTTP: the OACP path (signed
 * message, inbound gate, a run in the standard-tier sandbox, an execution
 * receipt fsynced to the log, the caller fetching its inclusion proof and
 * checking signatures, log inclusion and the input/output binding) beside a
 * server built with @a2a-js/sdk alone answering the SDK client. Sequential
 * calls, so the figure is latency, not throughput.
 */
const callCase: BenchCase = {
  id: 'a2a-call',
  title: `A2A: ${CALLS} signed, attested and verified calls beside a plain @a2a-js/sdk server`,
  async run(report) {
    const plain = await startPlainServer();
    const caller = keySigner(generateEd25519().privateKey);
    const node = await startNode([{ from: didKeyFromPublicKey(caller.publicKey), to: 'bench' }]);
    try {
      report('baseline: the SDK client against an SDK-only express server (echo executor)');
      const client = await new ClientFactory({ transports: [new JsonRpcTransportFactory()] }).createFromUrl(
        `${plain.url}/`,
      );
      const baseline = await latencies(() => client.sendMessage(plainRequest('ping')), CALLS, 20);

      report('subject: connectA2aAgent().send() against a gateway agent, every proof checked');
      const agent = await node.agent('bench');
      const connection = await connectA2aAgent({ url: `${node.url}/a2a/bench`, signer: caller });
      const subject = await latencies(
        async () => {
          const result = await connection.send({ text: 'ping' });
          if (result.trustLevel !== 'Standard') throw new Error(`bench call reached ${result.trustLevel}`);
        },
        CALLS,
        20,
      );

      report('breakdown: the same run through the gateway runtime alone (sandbox + receipt + fsync)');
      const runs = await latencies(
        () =>
          node.gateway.services.runtime.run(agent.did, {
            input: { messageId: randomUUID(), text: 'ping', data: [], from: null },
          }),
        CALLS,
        20,
      );
      const added = percentile(subject, 50) - percentile(baseline, 50);
      return [
        figure({
          case: 'a2a-call',
          metric: 'call latency p50 (signed, attested, verified)',
          unit: 'ms',
          subject: percentile(subject, 50),
          baselineName: 'plain @a2a-js/sdk server and client',
          baseline: percentile(baseline, 50),
          note: `added ${added.toFixed(2)} ms at p50, the sandboxed run with its fsynced receipt alone (measured separately) is ${percentile(runs, 50).toFixed(2)} ms; p99 ${percentile(subject, 99).toFixed(2)} vs ${percentile(baseline, 99).toFixed(2)} ms`,
        }),
      ];
    } finally {
      await Promise.all([plain.close(), node.close()]);
    }
  },
};

/** Card checks per second: OACP's (extension params, canonical form, EdDSA) beside the SDK's jose verifier. */
const cardCase: BenchCase = {
  id: 'a2a-card-verify',
  title: `A2A: ${CARD_CHECKS} agent card verifications`,
  async run(report) {
    const node = await startNode();
    let card: AgentCard;
    try {
      await node.agent('bench');
      card = await fetchAgentCard(`${node.url}/a2a/bench`);
    } finally {
      await node.close();
    }
    const check = checkAgentCard(card);
    if (check.status !== 'verified') throw new Error(`bench card did not verify: ${check.reason}`);
    const key = await importJWK(
      { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKeyFromDidKey(check.did)).toString('base64url') },
      'EdDSA',
    );
    const sdkVerify = verifyAgentCardSignature(async () => key);
    report('baseline: @a2a-js/sdk verifyAgentCardSignature (jose), key already imported');
    await throughput(() => sdkVerify(card), 500, 1);
    const baseline = await throughput(() => sdkVerify(card), CARD_CHECKS, 1);
    report('subject: checkAgentCard (params schema, did:key from the card, JCS, Ed25519)');
    syncThroughput(() => checkAgentCard(card), 500);
    const subject = syncThroughput(() => {
      if (checkAgentCard(card).status !== 'verified') throw new Error('card check failed');
    }, CARD_CHECKS);
    return [
      figure({
        case: 'a2a-card-verify',
        metric: 'card verifications per second',
        unit: 'cards/s',
        subject,
        baselineName: 'SDK verifyAgentCardSignature (jose)',
        baseline,
      }),
    ];
  },
};

export const a2aCases: BenchCase[] = [callCase, cardCase];
