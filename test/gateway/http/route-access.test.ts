import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Signer } from '../../../src/core/ed25519.js';
import { API_SCOPES, type ApiScope } from '../../../src/gateway/apikeys/scopes.js';
import type { DeclaredRoute } from '../../../src/gateway/http/route.js';
import { signRequest } from '../../../src/identity/signed-request.js';
import { MANIFEST, raw } from '../service/harness.js';
import { useGateway } from '../service/use-gateway.js';

/**
 * Every route the gateway serves declares who may call it (src/gateway/http/route.ts);
 * this walks the routes the app actually registered, so a route added without a
 * declaration, or a declaration the middleware does not enforce, fails here.
 */
describe('per-route access', () => {
  let self: { id: string; name: string };
  let other: { id: string; name: string };
  let signer: Signer;
  const served: Array<{ method: string; path: string }> = [];

  const gw = useGateway();
  beforeAll(async () => {
    self = await gw.client.createAgent({ name: 'walker', manifest: MANIFEST });
    other = await gw.client.createAgent({ name: 'bystander', manifest: MANIFEST });
    const found = await gw.gateway.services.agents.signer(self.id);
    if (found === undefined) throw new Error('no signer');
    signer = found;
    const seen = new Set<string>();
    for (const { method, path } of gw.gateway.app.routes) {
      if (method === 'ALL' || seen.has(`${method} ${path}`)) continue;
      seen.add(`${method} ${path}`);
      served.push({ method, path });
    }
  });

  const declaredFor = (method: string, path: string): DeclaredRoute | undefined =>
    gw.gateway.routes.find((route) => route.method === method && route.path === path);

  /** A concrete URL for a route pattern, naming `agent` wherever the route names one. */
  const concrete = (path: string, agent: { id: string; name: string }) =>
    path
      .replace(':id', encodeURIComponent(agent.id))
      .replace(/:transition\{[^}]*\}/, 'suspend')
      .replace(':key', 'k')
      .replace(':name', 'echo')
      .replace(':index', '0')
      .replace(':agent', agent.name)
      .replace('*', '0/000');

  const send = (method: string, path: string, headers: Record<string, string> = {}) =>
    raw(gw.url, path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }),
    });

  const signed = (method: string, path: string) => {
    const request = signRequest(signer, {
      purpose: `${method} ${path}`,
      payload: method === 'GET' ? '' : '{}',
    });
    return { 'oacp-signed-request': Buffer.from(JSON.stringify(request)).toString('base64url') };
  };

  const keyWithout = async (scope: ApiScope) =>
    gw.keyWith(API_SCOPES.filter((granted) => granted !== scope && granted !== 'admin'));

  it('finds a declaration for every registered route', () => {
    expect(served.length).toBeGreaterThan(10);
    const undeclared = served.filter(({ method, path }) => declaredFor(method, path) === undefined);
    expect(undeclared).toEqual([]);
  });

  it('answers 401 without credentials on every non-public route, and never 401/403 on a public one', async () => {
    for (const { method, path } of served) {
      const access = declaredFor(method, path)?.access;
      const { status } = await send(method, concrete(path, self));
      if (access?.kind === 'public') expect([401, 403], `${method} ${path}`).not.toContain(status);
      else expect(status, `${method} ${path}`).toBe(401);
      // HEAD is served by the GET route, through the same middleware.
      if (method === 'GET' && access?.kind !== 'public') {
        expect((await send('HEAD', concrete(path, self))).status, `HEAD ${path}`).toBe(401);
      }
    }
  });

  it('answers 403 to an API key holding every scope but the declared one', async () => {
    for (const { method, path } of served) {
      const access = declaredFor(method, path)?.access;
      if (access === undefined || access.kind === 'public') continue;
      const key = await keyWithout(access.scope);
      const refused = await send(method, concrete(path, self), { authorization: `Bearer ${key}` });
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.json, `${method} ${path}`).toMatchObject({
        error: { code: 'FORBIDDEN', message: expect.stringContaining(access.scope) },
      });
      const holder =
        access.kind === 'agent-key'
          ? (await gw.gateway.apiKeys.create({ scopes: [access.scope], agentId: self.id })).key
          : await gw.keyWith([access.scope]);
      const allowed = await send(method, concrete(path, self), { authorization: `Bearer ${holder}` });
      expect([401, 403], `${method} ${path} with ${access.scope}`).not.toContain(allowed.status);
    }
  });

  it('lets an agent through only where declared: itself on scope-or-self, any agent on scope-or-agent', async () => {
    for (const { method, path } of served) {
      const access = declaredFor(method, path)?.access;
      if (access === undefined || access.kind === 'public') continue;
      const own = concrete(path, self);
      const asSelf = await send(method, own, signed(method, own));
      if (access.kind === 'scope') expect(asSelf.status, `${method} ${path}`).toBe(403);
      else expect([401, 403], `${method} ${path} as itself`).not.toContain(asSelf.status);
      if (access.kind === 'scope-or-self') {
        const theirs = concrete(path, other);
        const asOther = await send(method, theirs, signed(method, theirs));
        expect(asOther.status, `${method} ${path} for another agent`).toBe(403);
      }
    }
  });

  it('matches the access table of docs/gateway.md row for row', () => {
    const docs = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'gateway.md'), 'utf8');
    const table = docs.slice(docs.indexOf('| route | access |'));
    const rows = [...table.matchAll(/^\| `(GET|POST|PUT|DELETE) ([^`]+)` \| (.+?) \|$/gm)].map(
      ([, method, path, access]) => `${method} ${path} ${access}`,
    );
    const expected = gw.gateway.routes
      .filter((route) => !route.path.startsWith('/a2a') && !route.path.startsWith('/.well-known'))
      .map(({ method, path, access }) => {
        const text =
          access.kind === 'public'
            ? 'public'
            : access.kind === 'scope'
              ? `\`${access.scope}\``
              : access.kind === 'scope-or-agent'
                ? `\`${access.scope}\`, or any agent (as itself)`
                : access.kind === 'agent-key'
                  ? `an agent: its own key with \`${access.scope}\`, or its signed request`
                  : `\`${access.scope}\`, or the agent itself`;
        return `${method} ${path.replace(/\{[^}]*\}/, '')} ${text}`;
      });
    expect(rows.sort()).toEqual(expected.sort());
  });
});

/**
 * The attack: an agent's own API key (bound to it with agentId, holding every
 * scope but admin) used on another agent's resources: its context, credentials,
 * quota, runs, state, migration, and tool calls in its name. Each is a 403; on
 * its own agent the same key is let through.
 */
describe('an agent key on another agent (IDOR)', () => {
  let self: { id: string; name: string };
  let other: { id: string; name: string };

  const gw = useGateway();
  beforeAll(async () => {
    self = await gw.client.createAgent({ name: 'owner', manifest: MANIFEST });
    other = await gw.client.createAgent({ name: 'victim', manifest: MANIFEST });
  });

  const concrete = (path: string, agent: { id: string }) =>
    path
      .replace(':id', encodeURIComponent(agent.id))
      .replace(/:transition\{[^}]*\}/, 'suspend')
      .replace(':key', 'k')
      .replace(':name', 'echo');

  it("attack: every /v1/agents/:id route with the other agent's id, and a tool call naming it: 403; its own: let through", async () => {
    const key = (
      await gw.gateway.apiKeys.create({
        scopes: API_SCOPES.filter((granted) => granted !== 'admin'),
        agentId: self.id,
      })
    ).key;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const agentRoutes = gw.gateway.routes.filter(
      (route) => route.access.kind !== 'public' && route.path.startsWith('/v1/agents/:id'),
    );
    expect(agentRoutes.length).toBeGreaterThan(5);
    for (const { method, path } of agentRoutes) {
      const body = method === 'GET' ? {} : { body: method === 'PUT' ? '{"value":1,"secret":"s"}' : '{}' };
      const theirs = await raw(gw.url, concrete(path, other), { method, headers, ...body });
      expect(theirs.status, `${method} ${path} on another agent`).toBe(403);
      expect(theirs.json, `${method} ${path}`).toMatchObject({
        error: { code: 'FORBIDDEN', message: expect.stringContaining('bound to agent') },
      });
    }
    // Nothing was written to the other agent's context.
    expect(
      (
        await raw(gw.url, `/v1/agents/${encodeURIComponent(other.id)}/context/k`, {
          headers: { authorization: `Bearer ${gw.adminKey}` },
        })
      ).status,
    ).toBe(404);
    for (const { method, path } of agentRoutes.filter((route) => route.method === 'GET')) {
      const own = await raw(gw.url, concrete(path, self), { method, headers });
      expect([401, 403], `${method} ${path} on its own agent`).not.toContain(own.status);
    }
    const call = (agent: string) =>
      raw(gw.url, '/v1/tools/echo/call', {
        method: 'POST',
        headers,
        body: JSON.stringify({ agent, arguments: { text: 'x' } }),
      });
    for (const name of [other.id, other.name]) {
      const refused = await call(name);
      expect(refused.status, name).toBe(403);
      expect(refused.text).toContain('bound to agent');
    }
    expect([401, 403]).not.toContain((await call(self.id)).status);
  });
});
