import { signRequest } from '../../../src/identity/signed-request.js';
import { MANIFEST, type TestGateway } from './harness.js';

/** A new agent on `gw` and one signed native tool call (`echo`) as it, ready to send (and replay) with `raw`. */
export async function signedToolCall(
  gw: TestGateway,
  name: string,
  body = JSON.stringify({ arguments: { text: 'once' } }),
) {
  const agent = await gw.client.createAgent({ name, manifest: MANIFEST });
  const signer = await gw.gateway.services.agents.signer(agent.id);
  if (signer === undefined) throw new Error(`no signer for ${name}`);
  const path = '/v1/tools/echo/call';
  const signed = signRequest(signer, { purpose: `POST ${path}`, payload: body });
  const init = {
    method: 'POST',
    headers: {
      'oacp-signed-request': Buffer.from(JSON.stringify(signed)).toString('base64url'),
      'content-type': 'application/json',
    },
    body,
  };
  return { agent, path, init };
}

/** The in-toto predicate of the receipt at `index` in the gateway's own log. */
export async function receiptPredicate(gw: TestGateway, index: number): Promise<unknown> {
  const envelope = JSON.parse(Buffer.from(await gw.gateway.node.log.entry(index)).toString('utf8')) as {
    payload: string;
  };
  return (JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { predicate: unknown })
    .predicate;
}
