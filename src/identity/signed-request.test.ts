import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEd25519, keySigner } from '../core/ed25519.js';
import { didKeyFromPublicKey } from './did-key.js';
import { InMemoryNonceStore } from './nonce-store.js';
import { type SignedRequest, signRequest, verifySignedRequest } from './signed-request.js';
import { SqliteNonceStore } from './sqlite-nonce-store.js';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const agent = keySigner(generateEd25519().privateKey);
const other = keySigner(generateEd25519().privateKey);
const payload = Buffer.from('{"tool":"read_file","arguments":{"path":"/tmp/x"}}');
const purpose = 'POST /v1/tools/call';

function sign(now = T0): SignedRequest {
  return signRequest(agent, { purpose, payload, now: () => now });
}

function check(request: unknown, overrides: Partial<Parameters<typeof verifySignedRequest>[1]> = {}) {
  return verifySignedRequest(request, {
    publicKey: agent.publicKey,
    payload,
    purpose,
    nonces: new InMemoryNonceStore({ now: () => T0 }),
    now: () => T0,
    ...overrides,
  });
}

/** Flips the first character of a base64url or hex field to another valid one. */
function flip(text: string): string {
  const first = text[0] === 'A' ? 'B' : 'A';
  return first + text.slice(1);
}

function flipHex(hex: string): string {
  return (hex[0] === '0' ? '1' : '0') + hex.slice(1);
}

/** 16 bytes in 22 base64url characters leave 4 unused low bits in the last one; setting one keeps the bytes. */
function respell(nonce: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(nonce.slice(-1));
  return nonce.slice(0, -1) + alphabet[last | 1];
}

describe('signed requests', () => {
  it('accepts a fresh request from the expected key (raw key or did:key)', async () => {
    const request = sign();
    expect(await check(request)).toMatchObject({
      ok: true,
      signer: didKeyFromPublicKey(agent.publicKey),
      purpose,
    });
    expect(await check(request, { publicKey: didKeyFromPublicKey(agent.publicKey) })).toMatchObject({
      ok: true,
    });
  });

  it('carries a 128-bit nonce that differs per request', async () => {
    const a = sign();
    const b = sign();
    expect(Buffer.from(a.nonce, 'base64url').length).toBe(16);
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('refuses a replay of the same request', async () => {
    const nonces = new InMemoryNonceStore({ now: () => T0 });
    const request = sign();
    expect(await check(request, { nonces })).toMatchObject({ ok: true });
    expect(await check(request, { nonces })).toEqual({ ok: false, reason: 'replayed nonce' });
  });

  it('refuses a replay after the SQLite nonce store is reopened', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'oacp-req-')), 'nonces.db');
    const request = sign();
    const first = new SqliteNonceStore(path, { now: () => T0 });
    expect(await check(request, { nonces: first })).toMatchObject({ ok: true });
    first.close();
    const reopened = new SqliteNonceStore(path, { now: () => T0 + 10_000 });
    expect(await check(request, { nonces: reopened, now: () => T0 + 10_000 })).toEqual({
      ok: false,
      reason: 'replayed nonce',
    });
    reopened.close();
  });

  it.each([
    [-301_000, false],
    [-299_000, true],
    [299_000, true],
    [301_000, false],
  ])('with the signer clock off by %i ms: accepted=%s', async (offsetMs, accepted) => {
    const verdict = await check(sign(T0 + offsetMs));
    expect(verdict.ok).toBe(accepted);
    if (!accepted)
      expect(verdict.reason).toMatch(/^timestamp outside the allowed window: 301 s in the (past|future)/);
  });

  it('honours a configured window', async () => {
    expect(await check(sign(T0 - 61_000), { maxSkewMs: 60_000 })).toMatchObject({ ok: false });
    expect(await check(sign(T0 - 59_000), { maxSkewMs: 60_000 })).toMatchObject({ ok: true });
  });

  it('does not let a refused request occupy the nonce cache', async () => {
    const nonces = new InMemoryNonceStore({ now: () => T0 });
    const request = sign();
    expect(await check({ ...request, signature: flip(request.signature) }, { nonces })).toMatchObject({
      ok: false,
    });
    expect(await check(request, { nonces })).toMatchObject({ ok: true });
  });

  const tamperings: Array<[string, (request: SignedRequest) => unknown, RegExp]> = [
    [
      'payload digest',
      (r) => ({ ...r, payloadDigest: flipHex(r.payloadDigest) }),
      /^payload digest mismatch$/,
    ],
    ['timestamp', (r) => ({ ...r, timestamp: r.timestamp + 1 }), /^bad signature$/],
    ['nonce', (r) => ({ ...r, nonce: flip(r.nonce) }), /^bad signature$/],
    ['signature', (r) => ({ ...r, signature: flip(r.signature) }), /^bad signature$/],
    ['purpose', (r) => ({ ...r, purpose: 'DELETE /v1/agents' }), /^purpose mismatch/],
    ['signer', (r) => ({ ...r, signer: didKeyFromPublicKey(other.publicKey) }), /^wrong signer/],
    ['an extra field', (r) => ({ ...r, admin: true }), /^malformed request/],
    [
      'the nonce spelling (same bytes, non-canonical base64url)',
      (r) => ({ ...r, nonce: respell(r.nonce) }),
      /^malformed request: nonce/,
    ],
  ];
  it('respells a nonce to the same bytes (so the refusal below is about the spelling)', async () => {
    const { nonce } = sign();
    expect(respell(nonce)).not.toBe(nonce);
    expect(Buffer.from(respell(nonce), 'base64url')).toEqual(Buffer.from(nonce, 'base64url'));
  });

  it.each(tamperings)('refuses a request whose %s was changed', async (_what, tamper, reason) => {
    const verdict = await check(tamper(sign()));
    expect(verdict.ok).toBe(false);
    expect(verdict.reason).toMatch(reason);
  });

  it('refuses a payload other than the one signed, even with its digest updated to match', async () => {
    const evil = Buffer.from('{"tool":"rm"}');
    expect(await check(sign(), { payload: evil })).toEqual({ ok: false, reason: 'payload digest mismatch' });
    const request = { ...sign(), payloadDigest: createHash('sha256').update(evil).digest('hex') };
    expect(await check(request, { payload: evil })).toEqual({ ok: false, reason: 'bad signature' });
  });

  it('refuses a request verified against the wrong key', async () => {
    expect(await check(sign(), { publicKey: other.publicKey })).toMatchObject({
      ok: false,
      reason: /^wrong signer/,
    });
    // Even when an attacker also rewrites the signer field, the signature does not verify.
    const forged = { ...sign(), signer: didKeyFromPublicKey(other.publicKey) };
    expect(await check(forged, { publicKey: other.publicKey })).toEqual({
      ok: false,
      reason: 'bad signature',
    });
  });

  it('refuses, with a reason, when its own configuration is broken', async () => {
    expect(await check(sign(), { publicKey: 'did:key:zNotAKey' })).toMatchObject({
      ok: false,
      reason: /^check failed: /,
    });
  });

  it.each([null, 'text', {}, [], { version: 2 }])('refuses malformed input %j', async (input) => {
    expect(await check(input)).toMatchObject({ ok: false, reason: /^malformed request/ });
  });
});
