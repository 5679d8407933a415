import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { methodOfUnread, UnreadDigest, unreadMessage } from './unread-message.js';

describe('methodOfUnread', () => {
  it('reads the top-level method where JSON-RPC writers put it: first (after jsonrpc and id) or last', () => {
    expect(methodOfUnread('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"na', '')).toBe(
      'tools/call',
    );
    expect(methodOfUnread('{"method":"ping","params":', '')).toBe('ping');
    expect(methodOfUnread(' { "id" : "a\\"b" , "method" : "x\\u0041" ', '')).toBe('xA');
    expect(methodOfUnread('{"params":{"a":1', ',"jsonrpc":"2.0","method":"tools/list"}\r')).toBe(
      'tools/list',
    );
  });

  it('refuses a "method" that is not the object\'s own: inside params, after params, or not a string', () => {
    expect(methodOfUnread('{"params":{"method":"tools/call"', '"pad"}}')).toBeUndefined();
    expect(methodOfUnread('{"id":1,"params":{},"method":"tools/call"', 'xx"}}')).toBeUndefined();
    expect(methodOfUnread('{"method":12,', '')).toBeUndefined();
    expect(methodOfUnread('{"method":"",', '')).toBeUndefined();
    expect(methodOfUnread('{"pad":"', ',"method":"a"}}')).toBeUndefined();
    expect(methodOfUnread('{"pad":"', ',"method":"a"}')).toBe('a');
  });
});

describe('UnreadDigest', () => {
  it('digests the pieces as the one UTF-8 string they make, and counts its bytes', () => {
    const text = 'añ€😀'.repeat(1000);
    const digest = new UnreadDigest();
    const points = Array.from(text);
    for (let at = 0; at < points.length; at += 37) digest.add(points.slice(at, at + 37).join(''));
    expect(digest.finish('m')).toEqual(unreadMessage(text, 'm'));
    expect(unreadMessage(text, 'm')).toEqual({
      method: 'm',
      sha256: createHash('sha256').update(text, 'utf8').digest('hex'),
      bytes: Buffer.byteLength(text),
    });
  });
});
