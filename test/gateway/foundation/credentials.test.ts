import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CredentialVault, redactSecrets } from '../../../src/gateway/credentials/index.js';
import { openStore, type Store } from '../../../src/store/index.js';

const MASTER = new Uint8Array(randomBytes(32));
const A = 'did:key:z6MkAgentA';
const B = 'did:key:z6MkAgentB';
const TOKEN = 'ghp_SECRET_TOKEN_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'oacp-cred-'));
let n = 0;
const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setup() {
  n += 1;
  const store = await openStore(join(dir, `c${n}.db`));
  stores.push(store);
  for (const id of [A, B]) {
    const at = new Date().toISOString();
    await store.agents.insert({
      id,
      name: id.slice(-6),
      manifest: '{}',
      state: 'running',
      parentId: null,
      sealedKey: '{}',
      code: null,
      createdAt: at,
      updatedAt: at,
    });
  }
  return { store, vault: new CredentialVault({ store, masterKey: MASTER }) };
}

const github = {
  name: 'github',
  agentId: A,
  tool: 'github.*',
  inject: { kind: 'env', name: 'GITHUB_TOKEN' },
} as const;

describe('credential vault', () => {
  it('injects an agent-and-tool-scoped secret at call time', async () => {
    const { vault } = await setup();
    await vault.put({ ...github, value: TOKEN });
    await vault.put({
      name: 'search',
      agentId: A,
      tool: 'search.query',
      inject: { kind: 'header', name: 'Authorization' },
      value: 'Bearer sk-search-987654321',
    });
    const forGithub = await vault.resolveForCall(A, 'github.create_issue');
    expect(forGithub.env()).toEqual({ GITHUB_TOKEN: TOKEN });
    expect(forGithub.headers()).toEqual({});
    const forSearch = await vault.resolveForCall(A, 'search.query');
    expect(forSearch.headers()).toEqual({ Authorization: 'Bearer sk-search-987654321' });
    expect(forSearch.env()).toEqual({});
  });

  it('gives nothing to another agent or another tool', async () => {
    const { vault } = await setup();
    await vault.put({ ...github, value: TOKEN });
    expect((await vault.resolveForCall(B, 'github.create_issue')).size).toBe(0);
    expect((await vault.resolveForCall(A, 'gitlab.create_issue')).size).toBe(0);
    expect((await vault.resolveForCall(A, 'github')).size).toBe(0);
    await vault.put({ ...github, tool: 'fs.read', value: 'exact-tool-secret' });
    expect((await vault.resolveForCall(A, 'fs__read_all')).size).toBe(0);
    expect((await vault.resolveForCall(A, 'fs.read')).size).toBe(1);
  });

  it('lets the most specific scope win when two credentials target the same variable', async () => {
    const { vault } = await setup();
    await vault.put({ ...github, name: 'broad', tool: '*', value: 'broad-secret-value' });
    await vault.put({ ...github, name: 'narrow', tool: 'github.*', value: 'narrow-secret-value' });
    await vault.put({ ...github, name: 'exact', tool: 'github.merge', value: 'exact-secret-value' });
    expect((await vault.resolveForCall(A, 'github.merge')).env()).toEqual({
      GITHUB_TOKEN: 'exact-secret-value',
    });
    expect((await vault.resolveForCall(A, 'github.list')).env()).toEqual({
      GITHUB_TOKEN: 'narrow-secret-value',
    });
    expect((await vault.resolveForCall(A, 'other')).env()).toEqual({ GITHUB_TOKEN: 'broad-secret-value' });
  });

  it('never shows values: describe, JSON, inspect, storage and errors', async () => {
    const { vault, store } = await setup();
    await vault.put({ ...github, value: TOKEN });
    const described = await vault.describe();
    expect(described).toEqual([
      expect.objectContaining({ name: 'github', agentId: A, tool: 'github.*', inject: github.inject }),
    ]);
    expect(JSON.stringify(described)).not.toContain(TOKEN);
    const secrets = await vault.resolveForCall(A, 'github.x');
    expect(JSON.stringify(secrets)).not.toContain(TOKEN);
    expect(JSON.stringify({ ...secrets })).not.toContain(TOKEN);
    expect(inspect(secrets, { showHidden: true, depth: 5 })).not.toContain(TOKEN);
    expect(`${secrets}`).not.toContain(TOKEN);
    expect(JSON.stringify(secrets)).toContain('GITHUB_TOKEN');
    const rows = await store.sql.all<{ ciphertext: Uint8Array }>('SELECT ciphertext FROM credentials');
    expect(Buffer.from(rows[0]?.ciphertext ?? []).includes(TOKEN)).toBe(false);
    // A refused put does not echo the value it was given.
    const refusal = await vault
      .put({ ...github, inject: { kind: 'env', name: 'LD_PRELOAD' }, value: TOKEN })
      .catch((e) => e);
    expect(refusal).toMatchObject({ code: 'CREDENTIAL_INVALID' });
    expect(String(refusal.message)).not.toContain(TOKEN);
    expect(String(refusal.message)).toContain('inject.name');
  });

  it('refuses malformed credentials and unknown agents', async () => {
    const { vault } = await setup();
    const cases: [Record<string, unknown>, string][] = [
      [{ ...github, value: 'short' }, 'value'],
      [{ ...github, name: 'bad name', value: TOKEN }, 'name'],
      [{ ...github, tool: 'git hub', value: TOKEN }, 'tool'],
      [{ ...github, inject: { kind: 'header', name: 'Host' }, value: TOKEN }, 'inject.name'],
      [{ ...github, inject: { kind: 'file', name: 'x' }, value: TOKEN }, 'inject'],
      [{ ...github, value: TOKEN, extra: 1 }, 'input'],
      // attack: a header value that ends its header and starts another (and an env value with NUL).
      [
        { ...github, inject: { kind: 'header', name: 'authorization' }, value: `${TOKEN}\r\nX-Admin: 1` },
        'value',
      ],
      [{ ...github, inject: { kind: 'header', name: 'authorization' }, value: `${TOKEN}\n` }, 'value'],
      [{ ...github, value: `${TOKEN}\0` }, 'value: must be an environment value'],
    ];
    for (const [input, field] of cases) {
      const error = await vault.put(input as never).catch((e) => e);
      expect(error).toMatchObject({ code: 'CREDENTIAL_INVALID' });
      expect(String(error.message)).toContain(field);
      expect(String(error.message)).not.toContain(TOKEN);
    }
    await expect(vault.put({ ...github, agentId: 'did:key:z6MkNobody', value: TOKEN })).rejects.toMatchObject(
      {
        code: 'CREDENTIAL_UNKNOWN_AGENT',
      },
    );
  });

  it('refuses a ciphertext moved to another agent, naming the credential but not its value', async () => {
    const { vault, store } = await setup();
    await vault.put({ ...github, value: TOKEN });
    await store.sql.run('UPDATE credentials SET agent_id = ?', [B]);
    const error = await vault.resolveForCall(B, 'github.x').catch((e) => e);
    expect(error).toMatchObject({ code: 'CREDENTIAL_DECRYPT_FAILED' });
    expect(String(error.message)).toContain('github');
    expect(String(error.message)).not.toContain(TOKEN);
    const wrongMaster = new CredentialVault({ store, masterKey: new Uint8Array(32) });
    await expect(wrongMaster.resolveForCall(B, 'github.x')).rejects.toMatchObject({
      code: 'CREDENTIAL_DECRYPT_FAILED',
    });
  });

  it('replaces, deletes, and removes all of an agent credentials', async () => {
    const { vault } = await setup();
    const first = await vault.put({ ...github, value: TOKEN });
    const second = await vault.put({ ...github, value: 'rotated-token-value' });
    expect(second.createdAt).toBe(first.createdAt);
    expect((await vault.resolveForCall(A, 'github.x')).env()).toEqual({
      GITHUB_TOKEN: 'rotated-token-value',
    });
    await vault.put({ ...github, name: 'other', value: 'other-token-value' });
    await vault.put({ ...github, agentId: B, value: 'b-token-value' });
    expect(await vault.delete('other', A, 'github.*')).toBe(true);
    expect(await vault.removeAgent(A)).toBe(1);
    expect(await vault.describe({ agentId: A })).toEqual([]);
    expect(await vault.describe({ agentId: B })).toHaveLength(1);
  });

  it('redacts secrets from text, including their common encodings and bare bearer tokens', async () => {
    const { vault } = await setup();
    await vault.put({
      ...github,
      inject: { kind: 'header', name: 'Authorization' },
      value: 'Bearer tok/en+with=chars',
    });
    const secrets = await vault.resolveForCall(A, 'github.x');
    const leaky = [
      'header Bearer tok/en+with=chars',
      'token tok/en+with=chars alone',
      `url ?t=${encodeURIComponent('tok/en+with=chars')}`,
      `b64 ${Buffer.from('tok/en+with=chars').toString('base64')}`,
    ].join('\n');
    const clean = secrets.redact(leaky);
    expect(clean).not.toContain('tok/en');
    expect(clean).not.toContain(encodeURIComponent('tok/en+with=chars'));
    expect(clean).not.toContain(Buffer.from('tok/en+with=chars').toString('base64').slice(0, 20));
    expect(clean).toContain('[REDACTED]');
    expect(redactSecrets('a "quote\\"d" b', ['quote"d'])).toBe('a "[REDACTED]" b');
    expect(redactSecrets('nothing to hide', ['', 'absent-secret'])).toBe('nothing to hide');
  });

  it('attack: a key quoted back inside a longer base64 text (Basic user:key) is redacted at every alignment', () => {
    const key = 'sk-live-0123456789abcdefghij';
    for (const user of ['u', 'us', 'use', 'user']) {
      for (const encode of [(b: Buffer) => b.toString('base64'), (b: Buffer) => b.toString('base64url')]) {
        const quoted = encode(Buffer.from(`${user}:${key}?x`));
        const clean = redactSecrets(`upstream said: bad credentials "Basic ${quoted}"`, [key]);
        expect(clean, user).toContain('[REDACTED]');
        // The key alone is 38 base64 characters; what is left at either end is its neighbours (the user
        // name, '?x', padding) with at most the two key bytes that share their groups.
        const left = clean
          .replace(/.*Basic /, '')
          .replace(/".*/, '')
          .split('[REDACTED]');
        for (const part of left) expect(part.length, `${user}: ${part}`).toBeLessThanOrEqual(10);
      }
    }
  });
});
