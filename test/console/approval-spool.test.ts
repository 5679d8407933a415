import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApprovalDesk, ApprovalService } from '../../src/mcp/approval.js';
import { ApprovalSpool, bridgeApprovalDesk } from '../../src/mcp/approval-remote.js';

const REQUEST = {
  callId: 'c1',
  agent: 'client:x',
  server: 'files',
  tool: 'write',
  arguments: { path: '/a', body: 'TOP-SECRET' },
};

/** The home's approval spool and the bridge's desks, without processes: who answers first decides. */
describe('the approval spool', () => {
  const homes: string[] = [];
  afterEach(() => {
    for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
  });
  const home = () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-spool-'));
    homes.push(dir);
    return dir;
  };

  it("the operator's terminal answers first: the receipt says terminal, and the spool entry is withdrawn", async () => {
    const h = home();
    const terminal: ApprovalDesk = {
      method: 'terminal',
      decide: () =>
        new Promise((resolve) => setTimeout(() => resolve({ approved: true, by: 'terminal:op' }), 300)),
    };
    const spool = new ApprovalSpool(join(h, 'approvals'));
    const service = new ApprovalService({
      timeoutMs: 10_000,
      desk: bridgeApprovalDesk(h, { approvalTimeout: 10_000, approvalShowArguments: ['path'] }, terminal),
    });
    const answer = service.approve(REQUEST, {});
    await expect.poll(async () => (await spool.list()).length).toBe(1);
    const [listed] = await spool.list();
    expect(listed?.request.arguments).toEqual({ path: '/a' });
    expect(listed?.hidden).toEqual(['body']);
    expect(await answer).toMatchObject({ approved: true, by: 'terminal:op', method: 'terminal' });
    await expect.poll(() => readdirSync(join(h, 'approvals')).length).toBe(0);
  });

  it('the console answers first: the receipt says http and names the key; a second decision loses', async () => {
    const h = home();
    const never: ApprovalDesk = { method: 'terminal', decide: () => new Promise(() => undefined) };
    const spool = new ApprovalSpool(join(h, 'approvals'));
    const service = new ApprovalService({
      timeoutMs: 10_000,
      desk: bridgeApprovalDesk(h, { approvalTimeout: 10_000, approvalShowArguments: [] }, never),
    });
    const answer = service.approve(REQUEST, {});
    await expect.poll(async () => (await spool.list()).length).toBe(1);
    const id = (await spool.list())[0]?.id ?? '';
    expect(await spool.decide(id, { approved: false, by: 'api-key:abc', reason: 'no' })).toBe('decided');
    expect(await spool.decide(id, { approved: true, by: 'api-key:def' })).not.toBe('decided');
    expect(await answer).toMatchObject({ approved: false, by: 'http:api-key:abc', method: 'http' });
  });

  it('attack: a malformed decision file is a deny, and a planted symlink or bad id is never followed', async () => {
    const h = home();
    const spool = new ApprovalSpool(join(h, 'approvals'));
    const service = new ApprovalService({
      timeoutMs: 10_000,
      desk: bridgeApprovalDesk(h, { approvalTimeout: 10_000, approvalShowArguments: [] }, undefined),
    });
    const answer = service.approve(REQUEST, {});
    await expect.poll(async () => (await spool.list()).length).toBe(1);
    const id = (await spool.list())[0]?.id ?? '';
    writeFileSync(join(h, 'approvals', `${id}.decision.json`), '{"approved": true}');
    expect(await answer).toMatchObject({ approved: false, by: 'error' });

    const secret = join(h, 'secret.json');
    writeFileSync(secret, JSON.stringify({ approved: true, by: 'x', at: new Date().toISOString() }));
    const fake = '11111111-1111-4111-8111-111111111111';
    symlinkSync(secret, join(h, 'approvals', `${fake}.decision.json`));
    await expect(spool.decision(fake)).rejects.toThrow();
    expect(await spool.decide('../secret', { approved: true, by: 'api-key:abc' })).toBe('unknown');
  });

  it('no decision in time is a deny; the late decision finds nothing', async () => {
    const h = home();
    const spool = new ApprovalSpool(join(h, 'approvals'));
    const service = new ApprovalService({
      timeoutMs: 300,
      desk: bridgeApprovalDesk(h, { approvalTimeout: 300, approvalShowArguments: [] }, undefined),
    });
    const answer = service.approve(REQUEST, {});
    await expect.poll(async () => (await spool.list()).length).toBe(1);
    const id = (await spool.list())[0]?.id ?? '';
    expect(await answer).toMatchObject({ approved: false, by: 'timeout' });
    expect(await spool.decide(id, { approved: true, by: 'api-key:abc' })).toBe('unknown');
  });

  /** A spool whose bridge acts right after the gateway's claim, before the gateway looks again. */
  class RacedSpool extends ApprovalSpool {
    constructor(
      dir: string,
      private readonly bridgeActs: (spool: ApprovalSpool, id: string) => Promise<void>,
    ) {
      super(dir);
    }
    override async claim(...args: Parameters<ApprovalSpool['claim']>): Promise<boolean> {
      const won = await super.claim(...args);
      if (won) await this.bridgeActs(this, args[0]);
      return won;
    }
  }
  const posted = async (dir: string) => {
    const id = '22222222-2222-4222-8222-222222222222';
    const now = new Date();
    await new ApprovalSpool(dir).post({
      version: 1,
      id,
      since: now.toISOString(),
      expires: new Date(now.getTime() + 60_000).toISOString(),
      pid: process.pid,
      name: 'files__write',
      request: { ...REQUEST, arguments: {} },
      hidden: [],
    });
    return id;
  };

  it('a bridge that takes the decision before the gateway looks again: the operator is told it was decided, not 404', async () => {
    const dir = join(home(), 'approvals');
    const id = await posted(dir);
    const spool = new RacedSpool(dir, (bridge, taken) => bridge.taken(taken));
    expect(await spool.decide(id, { approved: true, by: 'api-key:abc' })).toBe('decided');
    // The decision the bridge took goes a little later; nothing is left behind.
    await expect.poll(() => readdirSync(dir), { timeout: 5_000 }).toEqual([]);
  });

  it('a bridge that withdraws its request (timeout, cancel) as the operator decides: the decision reached nobody', async () => {
    const dir = join(home(), 'approvals');
    const id = await posted(dir);
    const spool = new RacedSpool(dir, (bridge, withdrawn) => bridge.withdraw(withdrawn));
    expect(await spool.decide(id, { approved: true, by: 'api-key:abc' })).toBe('unknown');
    expect(readdirSync(dir)).toEqual([]);
  });
});
