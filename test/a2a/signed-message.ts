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

/** A user message of one text part, unsigned (fresh message id, no context or task). */
export function textMessage(text: string): Message {
  return {
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
}

/** The `SendMessage` request carrying `message`, with no configuration. */
export function sendRequest(message: Message): SendMessageRequest {
  return { tenant: '', message, configuration: undefined, metadata: undefined };
}

/** A `SendMessage` request of one text part, unsigned: what a plain A2A client sends. */
export function plainRequest(text: string): SendMessageRequest {
  return sendRequest(textMessage(text));
}

/** A `SendMessage` request of one text part, signed by `caller` for the agent `to` (its did:key). */
export function signedRequest(caller: Signer, to: string, text: string): SendMessageRequest {
  return sendRequest(signMessage(textMessage(text), caller, { to }));
}

/** The official SDK client for an agent served at `<origin>/a2a/<name>/` (it reads the card there). */
export function a2aClientAt(origin: string, name: string): Promise<Client> {
  return new ClientFactory({ transports: [new JsonRpcTransportFactory()] }).createFromUrl(
    `${origin}/a2a/${name}/`,
  );
}
