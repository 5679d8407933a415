import { describe, expect, it } from 'vitest';
import { checkRequest } from './request-schema.js';

const v1Send = (message: unknown) => ({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message } });
const good = { messageId: 'm', role: 'ROLE_USER', parts: [{ text: 'hi' }] };

describe('strict A2A request validation (refused with a JSON-RPC error, never passed on)', () => {
  it('accepts well-formed v1.0 and v0.3 requests', () => {
    expect(checkRequest(v1Send(good), 'v1')).toEqual({ ok: true, id: 1, method: 'SendMessage' });
    const legacy = {
      jsonrpc: '2.0',
      id: 'x',
      method: 'message/send',
      params: {
        message: { kind: 'message', messageId: 'm', role: 'user', parts: [{ kind: 'text', text: 'hi' }] },
      },
    };
    expect(checkRequest(legacy, 'v0.3')).toMatchObject({ ok: true, method: 'message/send' });
    expect(checkRequest({ jsonrpc: '2.0', id: 2, method: 'GetTask', params: { id: 't' } }, 'v1').ok).toBe(
      true,
    );
  });

  it.each([
    ['a batch', [v1Send(good)], -32600, /JSON-RPC/],
    ['the wrong jsonrpc version', { ...v1Send(good), jsonrpc: '1.0' }, -32600, /jsonrpc/],
    ['an unknown method', { jsonrpc: '2.0', id: 1, method: 'ListTasks', params: {} }, -32601, /not served/],
    [
      'a v0.3 method in the v1.0 dialect',
      { jsonrpc: '2.0', id: 1, method: 'message/send', params: {} },
      -32601,
      /not served/,
    ],
    ['no message', { jsonrpc: '2.0', id: 1, method: 'SendMessage', params: {} }, -32602, /message/],
    ['an empty part list', v1Send({ ...good, parts: [] }), -32602, /parts/],
    [
      'a part with two contents',
      v1Send({ ...good, parts: [{ text: 'a', data: {} }] }),
      -32602,
      /exactly one/,
    ],
    ['an unknown role', v1Send({ ...good, role: 'ROLE_ADMIN' }), -32602, /role/],
    ['a numeric message id', v1Send({ ...good, messageId: 7 }), -32602, /messageId/],
    ['an unknown field', v1Send({ ...good, sudo: true }), -32602, /sudo|Unrecognized/],
    ['metadata that is not an object', v1Send({ ...good, metadata: 'x' }), -32602, /metadata/],
    [
      'a negative history length',
      { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 't', historyLength: -1 } },
      -32602,
      /historyLength/,
    ],
  ])('refuses %s', (_name, body, code, message) => {
    const check = checkRequest(body, 'v1');
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.code).toBe(code);
      expect(check.message).toMatch(message);
    }
  });

  it('echoes the request id in refusals when it has one', () => {
    expect(checkRequest({ ...v1Send({}), id: 'abc' }, 'v1')).toMatchObject({ ok: false, id: 'abc' });
    expect(checkRequest('not an object', 'v1')).toMatchObject({ ok: false, id: null });
  });
});
