import { describe, expect, it } from 'vitest';
import { classify, errorResponse, idKey } from './jsonrpc.js';

describe('classify', () => {
  it('recognises the four JSON-RPC 2.0 message kinds', () => {
    expect(classify({ jsonrpc: '2.0', id: 1, method: 'ping' }).kind).toBe('request');
    expect(classify({ jsonrpc: '2.0', id: 'a', method: 'x', params: {} }).kind).toBe('request');
    expect(classify({ jsonrpc: '2.0', method: 'notifications/initialized' }).kind).toBe('notification');
    expect(classify({ jsonrpc: '2.0', id: 1, result: {} }).kind).toBe('result');
    expect(classify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'x' } }).kind).toBe('error');
  });

  it.each([
    [null, null, /must be an object/],
    [[{ jsonrpc: '2.0', method: 'x' }], null, /must be an object/],
    [{ id: 3, method: 'ping' }, 3, /jsonrpc must be "2.0"/],
    [{ jsonrpc: '2.0', id: 3, method: 7 }, 3, /method must be a string/],
    [{ jsonrpc: '2.0', id: 1.5, method: 'x' }, null, /id must be a string or an integer/],
    [{ jsonrpc: '2.0', id: { a: 1 }, method: 'x' }, null, /id must be/],
    [{ jsonrpc: '2.0', id: 4, method: 'x', params: [1] }, 4, /params must be an object/],
    [{ jsonrpc: '2.0', id: 5, result: 'text' }, 5, /result must be an object/],
    [{ jsonrpc: '2.0', result: {} }, null, /needs the id/],
    [{ jsonrpc: '2.0', id: 6, error: { message: 'no code' } }, 6, /numeric code/],
    [{ jsonrpc: '2.0', id: 7 }, 7, /neither a request/],
  ])('refuses %j', (value, id, reason) => {
    const classified = classify(value);
    expect(classified.kind).toBe('invalid');
    if (classified.kind !== 'invalid') return;
    expect(classified.id).toBe(id);
    expect(classified.reason).toMatch(reason);
  });

  it('builds error responses and keeps 1 and "1" apart', () => {
    expect(errorResponse(2, -32601, 'no such method')).toEqual({
      jsonrpc: '2.0',
      id: 2,
      error: { code: -32601, message: 'no such method' },
    });
    expect(errorResponse(null, -1, 'x', { a: 1 }).error.data).toEqual({ a: 1 });
    expect(idKey(1)).not.toBe(idKey('1'));
  });
});
