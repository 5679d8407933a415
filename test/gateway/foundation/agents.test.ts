import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ManifestSchema } from '../../../src/capability/manifest.js';
import { signManifest } from '../../../src/capability/signed.js';
import { generateEd25519, keySigner, verifyEd25519 } from '../../../src/core/ed25519.js';
import {
  AGENT_STATES,
  AgentRegistry,
  type AgentState,
  ceilingManifest,
  manifestTrustFrom,
  transitionDecision,
} from '../../../src/gateway/agents/index.js';
import { CredentialVault } from '../../../src/gateway/credentials/index.js';
import { ContextVault } from '../../../src/gateway/vault/index.js';
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../../../src/identity/did-key.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { testBackends } from './backends.js';

const MASTER = new Uint8Array(randomBytes(32));

const manifest = (
  name: string,
  capabilities: Record<string, unknown> = {},
  quotas: Record<string, unknown> = {},
) => ({
  apiVersion: 'oacp.dev/v1',
  kind: 'CapabilityManifest',
  name,
  capabilities,
  quotas,
});

describe.each(testBackends())('agent registry on $name', (backend) => {
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  async function setup(
    options: Partial<ConstructorParameters<typeof AgentRegistry>[0]> = {},
    location?: string,
  ) {
    const where = location ?? (await backend.newLocation());
    const store = await openStore(where);
    stores.push(store);
    const vault = new ContextVault({ store, masterKey: MASTER });
    const credentials = new CredentialVault({ store, masterKey: MASTER });
    const registry = new AgentRegistry({ store, masterKey: MASTER, vault, credentials, ...options });
    return { store, vault, credentials, registry, location: where };
  }

  const skip = backend.skip !== undefined;

  it.skipIf(skip)('creates an agent with a did:key identity whose sealed key signs for it', async () => {
    const { registry, store } = await setup();
    const agent = await registry.create({
      name: 'planner',
      manifest: manifest('planner'),
      code: 'export default 1',
    });
    expect(agent.id).toMatch(/^did:key:z6Mk/);
    expect(didKeyFromPublicKey(agent.publicKey)).toBe(agent.id);
    expect(agent).toMatchObject({
      name: 'planner',
      state: 'created',
      parentId: null,
      code: 'export default 1',
    });
    const signer = await registry.signer(agent.id);
    const message = new TextEncoder().encode('hello');
    expect(verifyEd25519(publicKeyFromDidKey(agent.id), message, signer.sign(message))).toBe(true);
    // At rest: only the sealed form, bound to the did.
    const row = await store.sql.get<{ sealed_key: string }>('SELECT sealed_key FROM agents WHERE id = ?', [
      agent.id,
    ]);
    expect(JSON.parse(row?.sealed_key ?? '{}')).toMatchObject({
      kind: 'agent',
      name: agent.id,
      did: agent.id,
    });
    expect((await registry.get(agent.id)).manifest).toEqual(agent.manifest);
  });

  it.skipIf(skip)('keeps names unique, finds agents by did or name, and stores attributes', async () => {
    const { registry } = await setup();
    const agent = await registry.create({
      name: 'analyst',
      manifest: manifest('analyst'),
      attributes: { team: 'blue', level: 3, trusted: true },
    });
    expect((await registry.get('analyst')).id).toBe(agent.id);
    expect((await registry.get(agent.id)).attributes).toEqual({ team: 'blue', level: 3, trusted: true });
    expect(await registry.find('nobody')).toBeUndefined();
    await expect(registry.get('nobody')).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
    await expect(registry.create({ name: 'analyst', manifest: manifest('again') })).rejects.toMatchObject({
      code: 'AGENT_EXISTS',
    });
    // Two racing creations of one name: exactly one wins.
    const race = await Promise.allSettled([
      registry.create({ name: 'twin', manifest: manifest('t') }),
      registry.create({ name: 'twin', manifest: manifest('t') }),
    ]);
    expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(race.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'AGENT_EXISTS' } });
    for (const attributes of [
      { 'bad-name': 1 },
      { nested: { a: 1 } },
      { n: Number.NaN },
      { s: 'x'.repeat(300) },
    ]) {
      await expect(
        registry.create({ name: 'attrs', manifest: manifest('x'), attributes: attributes as never }),
      ).rejects.toMatchObject({ code: 'AGENT_ATTRIBUTES_INVALID' });
    }
  });

  it.skipIf(skip)('applies lifecycle verbs only from the states they name', async () => {
    const { registry } = await setup();
    const agent = await registry.create({ name: 'verbs', manifest: manifest('v') });
    await expect(registry.apply('verbs', 'resume')).rejects.toMatchObject({
      code: 'AGENT_ILLEGAL_TRANSITION',
    });
    expect((await registry.apply('verbs', 'start')).state).toBe('running');
    await expect(registry.apply(agent.id, 'start')).rejects.toMatchObject({
      code: 'AGENT_ILLEGAL_TRANSITION',
    });
    expect((await registry.apply(agent.id, 'suspend')).state).toBe('suspended');
    await expect(registry.apply(agent.id, 'start')).rejects.toMatchObject({
      code: 'AGENT_ILLEGAL_TRANSITION',
    });
    expect((await registry.apply(agent.id, 'resume')).state).toBe('running');
    expect((await registry.apply(agent.id, 'retire')).state).toBe('retired');
    const error = await registry.apply(agent.id, 'retire').catch((e: unknown) => e);
    expect((error as Error).message).toContain('retired -> retired');
  });

  it.skipIf(skip)('denies by default: a manifest grants only what it names', async () => {
    const { registry } = await setup();
    const agent = await registry.create({ name: 'quiet', manifest: manifest('quiet') });
    expect(agent.manifest.capabilities).toEqual({
      file_read: [],
      file_write: [],
      network: { allowlist: [], denylist: [] },
      env: [],
      tools: { allow: [], deny: [] },
      models: { allow: [], deny: [], provider_tools: [] },
    });
    await expect(
      registry.create({ name: 'bad', manifest: { ...manifest('bad'), extra: 1 } }),
    ).rejects.toMatchObject({
      code: 'CAPABILITY_MANIFEST_INVALID',
    });
    await expect(registry.create({ name: 'Bad Name', manifest: manifest('x') })).rejects.toMatchObject({
      code: 'IDENTITY_AGENT_NAME_INVALID',
    });
  });

  it.skipIf(skip)(
    'with require_signed_manifests accepts only manifests signed by a trusted key',
    async () => {
      const trustedSigner = keySigner(generateEd25519().privateKey);
      const stranger = keySigner(generateEd25519().privateKey);
      const trust = manifestTrustFrom({
        require_signed_manifests: true,
        manifest_keys: [didKeyFromPublicKey(trustedSigner.publicKey)],
      });
      const { registry } = await setup({ trust });
      const body = ManifestSchema.parse(manifest('signed', { tools: { allow: ['search.*'] } }));
      await expect(registry.create({ name: 'bare', manifest: body })).rejects.toMatchObject({
        code: 'CAPABILITY_MANIFEST_UNSIGNED',
      });
      await expect(
        registry.create({ name: 'stranger', manifest: signManifest(body, [stranger]) }),
      ).rejects.toMatchObject({ code: 'CAPABILITY_MANIFEST_SIGNATURE' });
      const envelope = signManifest(body, [trustedSigner]);
      const widened = ManifestSchema.parse(manifest('signed', { tools: { allow: ['*'] } }));
      const tampered = { ...envelope, payload: Buffer.from(JSON.stringify(widened)).toString('base64') };
      await expect(registry.create({ name: 'tampered', manifest: tampered })).rejects.toMatchObject({
        code: 'CAPABILITY_MANIFEST_SIGNATURE',
      });
      const agent = await registry.create({ name: 'signed', manifest: envelope });
      expect(agent.manifest.capabilities.tools.allow).toEqual(['search.*']);
    },
  );

  it.skipIf(skip)('verifies a signed manifest even when signatures are not required', async () => {
    const { registry } = await setup();
    const body = ManifestSchema.parse(manifest('x'));
    const envelope = signManifest(body, [keySigner(generateEd25519().privateKey)]);
    await expect(registry.create({ name: 'x', manifest: envelope })).rejects.toMatchObject({
      code: 'CAPABILITY_MANIFEST_SIGNATURE',
    });
  });

  it.skipIf(skip)('gives a child at most what its parent holds and records lineage', async () => {
    const { registry } = await setup();
    const parent = await registry.create({
      name: 'parent',
      manifest: manifest(
        'parent',
        { file_read: ['/data/**'], tools: { allow: ['search.*'] }, env: ['HOME'] },
        { api_calls_per_hour: 100 },
      ),
    });
    const child = await registry.create({
      name: 'child',
      parentId: parent.id,
      manifest: manifest(
        'child',
        { file_read: ['/data/in/**', '/etc/**'], tools: { allow: ['*'] }, env: ['HOME', 'AWS_SECRET'] },
        { api_calls_per_hour: 5000 },
      ),
    });
    expect(child.parentId).toBe(parent.id);
    expect(child.manifest.capabilities.file_read).toEqual(['/data/in/**']);
    expect(child.manifest.capabilities.tools.allow).toEqual(['search.*']);
    expect(child.manifest.capabilities.env).toEqual(['HOME']);
    expect(child.manifest.quotas.api_calls_per_hour).toBe(100);
    const grandchild = await registry.create({
      name: 'grandchild',
      parentId: child.id,
      manifest: manifest('g'),
    });
    expect((await registry.children(parent.id)).map((a) => a.id)).toEqual([child.id]);
    expect((await registry.ancestors(grandchild.id)).map((a) => a.id)).toEqual([child.id, parent.id]);
    await expect(
      registry.create({ name: 'orphan', parentId: 'did:key:z6MkNobody', manifest: manifest('o') }),
    ).rejects.toMatchObject({
      code: 'AGENT_NOT_FOUND',
    });
    await registry.retire(parent.id);
    await expect(
      registry.create({ name: 'late', parentId: parent.id, manifest: manifest('l') }),
    ).rejects.toMatchObject({
      code: 'AGENT_PARENT_RETIRED',
    });
  });

  it.skipIf(skip)('cuts top-level agents down to the gateway ceiling', async () => {
    const ceiling = ceilingManifest(
      ManifestSchema.parse(manifest('c', { network: { allowlist: ['*.trusted.com'] } })).capabilities,
      ManifestSchema.parse(manifest('c', {}, { memory_mb: 128 })).quotas,
    );
    const { registry } = await setup({ ceiling });
    const agent = await registry.create({
      name: 'greedy',
      manifest: manifest(
        'greedy',
        { network: { allowlist: ['api.trusted.com', 'evil.com'] } },
        { memory_mb: 4096 },
      ),
    });
    expect(agent.manifest.capabilities.network.allowlist).toEqual(['api.trusted.com']);
    expect(agent.manifest.quotas.memory_mb).toBe(128);
  });

  describe('lifecycle', () => {
    const legal: Record<AgentState, AgentState[]> = {
      created: ['running', 'retired'],
      running: ['suspended', 'retired'],
      suspended: ['running', 'retired'],
      retired: [],
    };
    const pathTo: Record<AgentState, AgentState[]> = {
      created: [],
      running: ['running'],
      suspended: ['running', 'suspended'],
      retired: ['retired'],
    };

    it.skipIf(skip).each(AGENT_STATES.flatMap((from) => AGENT_STATES.map((to) => [from, to] as const)))(
      '%s -> %s is allowed only if it is a legal move',
      async (from, to) => {
        const { registry } = await setup();
        const agent = await registry.create({ name: 'a', manifest: manifest('a') });
        for (const step of pathTo[from]) await registry.transition(agent.id, step);
        expect((await registry.get(agent.id)).state).toBe(from);
        if (legal[from].includes(to)) {
          expect((await registry.transition(agent.id, to)).state).toBe(to);
          expect((await registry.get(agent.id)).state).toBe(to);
          expect(transitionDecision(from, to).effect).toBe('allow');
        } else {
          const error = await registry.transition(agent.id, to).catch((e: unknown) => e);
          expect(error).toMatchObject({ code: 'AGENT_ILLEGAL_TRANSITION' });
          expect((error as Error).message).toContain(`${from} -> ${to}`);
          expect((await registry.get(agent.id)).state).toBe(from);
        }
      },
    );

    it.skipIf(skip)('lets only one of two racing transitions win', async () => {
      const { registry } = await setup();
      const agent = await registry.create({ name: 'a', manifest: manifest('a') });
      await registry.start(agent.id);
      const results = await Promise.allSettled([registry.suspend(agent.id), registry.suspend(agent.id)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const failure = results.find((r) => r.status === 'rejected');
      expect(failure?.status === 'rejected' && failure.reason).toMatchObject({
        code: expect.stringMatching(/^AGENT_(STATE_CONFLICT|ILLEGAL_TRANSITION)$/),
      });
    });

    it.skipIf(skip)(
      'retiring destroys the context, credentials and signing key, and is recorded',
      async () => {
        const { registry, vault, credentials, store } = await setup();
        const agent = await registry.create({ name: 'a', manifest: manifest('a') });
        const other = await registry.create({ name: 'b', manifest: manifest('b') });
        await registry.start(agent.id);
        await vault.put(agent.id, 'memory', 'remember me');
        await vault.put(other.id, 'memory', 'other memory');
        await registry.checkpoint(agent.id, { step: 1 });
        await credentials.put({
          name: 'tok',
          agentId: agent.id,
          tool: '*',
          inject: { kind: 'env', name: 'TOKEN' },
          value: 'secret-token-value',
        });
        await registry.retire(agent.id, 'apikey:ops');
        expect((await registry.get(agent.id)).state).toBe('retired');
        await expect(vault.get(agent.id, 'memory')).rejects.toMatchObject({ code: 'VAULT_DESTROYED' });
        expect((await store.context.partition(agent.id))?.salt).toBeNull();
        await expect(registry.signer(agent.id)).rejects.toMatchObject({ code: 'AGENT_RETIRED' });
        await expect(registry.checkpoint(agent.id, {})).rejects.toMatchObject({ code: 'AGENT_RETIRED' });
        await expect(registry.restore(agent.id)).rejects.toMatchObject({ code: 'AGENT_RETIRED' });
        expect((await credentials.resolveForCall(agent.id, 'x')).size).toBe(0);
        expect(await vault.getText(other.id, 'memory')).toBe('other memory');
        const events = await store.securityEvents.list({ kind: 'agent.retired' });
        expect(events.map((e) => [e.subject, JSON.parse(e.detail)])).toEqual([
          [agent.id, { from: 'running', to: 'retired', actor: 'apikey:ops' }],
        ]);
      },
    );
  });

  it.skipIf(skip)(
    'retiring a parent retires its descendants, destroying each context key, and spares the rest',
    async () => {
      const { registry, vault, store } = await setup();
      const parent = await registry.create({ name: 'parent', manifest: manifest('p') });
      const child = await registry.create({ name: 'child', parentId: parent.id, manifest: manifest('c') });
      const gone = await registry.create({ name: 'gone', parentId: parent.id, manifest: manifest('g') });
      const grandchild = await registry.create({
        name: 'grandchild',
        parentId: child.id,
        manifest: manifest('gc'),
      });
      const bystander = await registry.create({ name: 'bystander', manifest: manifest('b') });
      await registry.start(child.id);
      await registry.start(grandchild.id);
      await registry.suspend(grandchild.id);
      await registry.retire(gone.id);
      for (const agent of [parent, child, grandchild, bystander]) {
        await vault.put(agent.id, 'memory', `memory of ${agent.name}`);
      }
      // Parents before their children; siblings created in the same millisecond may come in either order.
      const order = (await registry.descendants(parent.id)).map((a) => a.id);
      expect(order.slice(0, 2).sort()).toEqual([child.id, gone.id].sort());
      expect(order[2]).toBe(grandchild.id);

      await registry.retire(parent.id, 'apikey:ops');

      for (const agent of [parent, child, grandchild]) {
        expect((await registry.get(agent.id)).state).toBe('retired');
        await expect(vault.get(agent.id, 'memory')).rejects.toMatchObject({ code: 'VAULT_DESTROYED' });
        expect((await store.context.partition(agent.id))?.salt).toBeNull();
        await expect(registry.signer(agent.id)).rejects.toMatchObject({ code: 'AGENT_RETIRED' });
      }
      expect((await registry.get(bystander.id)).state).toBe('created');
      expect(await vault.getText(bystander.id, 'memory')).toBe('memory of bystander');
      const events = await store.securityEvents.list({ kind: 'agent.retired' });
      expect(events.map((e) => [e.subject, JSON.parse(e.detail)])).toEqual([
        [gone.id, { from: 'created', to: 'retired', actor: null }],
        [parent.id, { from: 'created', to: 'retired', actor: 'apikey:ops' }],
        [child.id, { from: 'running', to: 'retired', actor: 'apikey:ops', cascadeFrom: parent.id }],
        [grandchild.id, { from: 'suspended', to: 'retired', actor: 'apikey:ops', cascadeFrom: parent.id }],
      ]);
    },
  );

  it.skipIf(skip)('checkpoints and resumes an agent on a restarted gateway', async () => {
    const first = await setup();
    const agent = await first.registry.create({ name: 'worker', manifest: manifest('worker') });
    await first.registry.start(agent.id);
    expect(await first.registry.restore(agent.id)).toBeUndefined();
    await first.registry.checkpoint(agent.id, { step: 1 });
    await first.registry.checkpoint(agent.id, { step: 2, todo: ['write report'] });
    await first.registry.suspend(agent.id);
    await first.store.close();

    const second = await setup({}, first.location);
    const again = await second.registry.get(agent.id);
    expect(again.state).toBe('suspended');
    expect(again.manifest).toEqual(agent.manifest);
    await second.registry.resume(agent.id);
    expect(await second.registry.restore(agent.id)).toMatchObject({
      seq: 2,
      state: { step: 2, todo: ['write report'] },
    });
    const signer = await second.registry.signer(agent.id);
    expect(didKeyFromPublicKey(signer.publicKey)).toBe(agent.id);
  });

  it.skipIf(skip)('refuses a tampered record or a key unsealed under another master key', async () => {
    const { registry, store, location } = await setup();
    const agent = await registry.create({ name: 'a', manifest: manifest('a') });
    const other = await registry.create({ name: 'b', manifest: manifest('b') });
    await store.sql.run('UPDATE agents SET state = ? WHERE id = ?', ['zombie', agent.id]);
    await expect(registry.get(agent.id)).rejects.toMatchObject({ code: 'AGENT_RECORD_INVALID' });
    // b's sealed key swapped into a's row: the did no longer matches.
    await store.sql.run(
      'UPDATE agents SET state = ?, sealed_key = (SELECT sealed_key FROM agents WHERE id = ?) WHERE id = ?',
      ['created', other.id, agent.id],
    );
    await expect(registry.get(agent.id)).rejects.toMatchObject({ code: 'AGENT_RECORD_INVALID' });
    await expect(registry.signer(agent.id)).rejects.toMatchObject({ code: 'AGENT_RECORD_INVALID' });
    await store.close();
    const wrong = await openStore(location);
    stores.push(wrong);
    const stranger = new AgentRegistry({
      store: wrong,
      masterKey: new Uint8Array(32),
      vault: new ContextVault({ store: wrong, masterKey: new Uint8Array(32) }),
    });
    await expect(stranger.signer(other.id)).rejects.toMatchObject({ code: 'IDENTITY_MASTER_KEY_WRONG' });
  });
});

describe('manifest trust settings', () => {
  it('reads did:key and base64 keys and refuses anything else', () => {
    const key = keySigner(generateEd25519().privateKey).publicKey;
    const trust = manifestTrustFrom({
      require_signed_manifests: true,
      manifest_keys: [didKeyFromPublicKey(key), Buffer.from(key).toString('base64')],
    });
    expect(trust.requireSigned).toBe(true);
    expect(trust.trustedKeys?.map((k) => Buffer.from(k).toString('hex'))).toEqual([
      Buffer.from(key).toString('hex'),
      Buffer.from(key).toString('hex'),
    ]);
    expect(() => manifestTrustFrom({ require_signed_manifests: false, manifest_keys: ['nope'] })).toThrow(
      expect.objectContaining({ code: 'AGENT_TRUST_INVALID' }),
    );
  });
});
