import { randomUUID } from 'node:crypto';
import { type Message, Role, type SendMessageRequest } from '@a2a-js/sdk';
import {
  type Client,
  ClientFactory,
  JsonRpcTransportFactory,
  type RequestOptions,
  ServiceParameters,
  withA2AExtensions,
} from '@a2a-js/sdk/client';
import { OACP_A2A_EXTENSION } from '../../src/a2a/extension.js';
import { signMessage } from '../../src/a2a/message-signature.js';
import type { Signer } from '../../src/core/ed25519.js';

/** Request options that declare the OACP extension (A2A-Extensions header), as an OACP caller does. */
export const DECLARED: RequestOptions = {
  serviceParameters: ServiceParameters.create(withA2AExtensions(OACP_A2A_EXTENSION)),
};

/** A `SendMessage` request of one text part, signed by `caller` for the agent `to` (its did:key). */
export function signedRequest(caller: Signer, to: string, text: string): SendMessageRequest {
  const message: Message = {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [
      {
        content: { $case: 'text', value: text },
        metadata: undefined,
        filename: '',
        mediaType: 'text/plain',
      },
    ],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
  return {
    tenant: '',
    message: signMessage(message, caller, { to }),
    configuration: undefined,
    metadata: undefined,
  };
}

/** The official SDK client for an agent served at `<origin>/a2a/<name>/` (it reads the card there). */
export function a2aClientAt(origin: string, name: string): Promise<Client> {
  return new ClientFactory({ transports: [new JsonRpcTransportFactory()] }).createFromUrl(
    `${origin}/a2a/${name}/`,
  );
}
