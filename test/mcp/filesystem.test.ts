import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyEngine } from '../../src/policy/engine.js';
import { loadPolicies } from '../../src/policy/load.js';
import { type Harness, inProcess, lightUpstream, receiptIndex, SERVERS, text } from './helpers.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'oacp-fs-')));
mkdirSync(join(root, 'data'));
writeFileSync(join(root, 'data', 'report.txt'), 'quarterly numbers');
writeFileSync(join(root, 'secret.txt'), 'the launch codes');

const POLICY = `
@id("read-data")
permit(principal, action == Action::"tools/call", resource == Tool::"read_text_file")
when {
  context.arguments has path &&
  context.arguments.path like "${root}/data/*" &&
  !(context.arguments.path like "*..*")
};

@id("list")
permit(principal, action == Action::"tools/call", resource == Tool::"list_directory")
when { context.arguments has path && context.arguments.path like "${root}*" };

@id("writes-too")
permit(principal, action == Action::"tools/call", resource == Tool::"write_file");

@id("no-write")
forbid(principal, action == Action::"tools/call", resource == Tool::"write_file");
`;

describe('filesystem server under a Cedar policy', () => {
  let harness: Harness;

  beforeAll(async () => {
    const policy = new PolicyEngine(loadPolicies(POLICY, 'fs.cedar'));
    harness = await inProcess(lightUpstream('files', [SERVERS.filesystem, root]), { policy, via: 'stdio' });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('allows reading under data/ and signs an allow receipt naming the policy', async () => {
    const result = await harness.client.callTool({
      name: 'read_text_file',
      arguments: { path: `${root}/data/report.txt` },
    });
    expect(result.isError ?? false).toBe(false);
    expect(text(result)).toContain('quarterly numbers');
    const verified = await harness.receipts.verify(receiptIndex(result));
    expect(verified.ok).toBe(true);
    expect(verified.predicate).toMatchObject({
      policy: { effect: 'allow', policyId: 'read-data', policyIds: ['read-data'] },
      resultDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('denies a path outside data/ by default, as a tool error carrying the reason and receipt', async () => {
    const result = await harness.client.callTool({
      name: 'read_text_file',
      arguments: { path: `${root}/secret.txt` },
    });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/OACP denied this call: no policy permits .*deny by default.*receipt #\d+/);
    expect(text(result)).not.toContain('launch codes');
    const verified = await harness.receipts.verify(receiptIndex(result));
    expect(verified.ok).toBe(true);
    expect(verified.predicate).toMatchObject({ policy: { effect: 'deny' } });
    expect(verified.predicate.resultDigest).toBeUndefined();
  });

  it('denies a traversal out of data/ passed as a tool argument', async () => {
    const result = await harness.client.callTool({
      name: 'read_text_file',
      arguments: { path: `${root}/data/../secret.txt` },
    });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('OACP denied this call');
    expect(text(result)).not.toContain('launch codes');
  });

  it('lets forbid override permit', async () => {
    const result = await harness.client.callTool({
      name: 'write_file',
      arguments: { path: `${root}/data/new.txt`, content: 'x' },
    });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('forbidden by policy no-write');
  });

  it('denies a tool no policy mentions', async () => {
    const result = await harness.client.callTool({ name: 'list_allowed_directories', arguments: {} });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('deny by default');
  });

  it('records every call, allowed or denied', () => {
    expect(harness.receipts.records.map((record) => [record.tool, record.decision.effect])).toEqual([
      ['read_text_file', 'allow'],
      ['read_text_file', 'deny'],
      ['read_text_file', 'deny'],
      ['write_file', 'deny'],
      ['list_allowed_directories', 'deny'],
    ]);
  });
});

describe('filesystem server: the policy sees the raw argument, the server root still holds', () => {
  it('a naive policy lets "data/../secret.txt" through, and the server confined to data/ refuses it', async () => {
    const naive = new PolicyEngine(
      loadPolicies(
        `permit(principal, action, resource == Tool::"read_text_file") when { context.arguments.path like "${root}/data/*" };`,
      ),
    );
    const harness = await inProcess(lightUpstream('files', [SERVERS.filesystem, join(root, 'data')]), {
      policy: naive,
    });
    try {
      const result = await harness.client.callTool({
        name: 'read_text_file',
        arguments: { path: `${root}/data/../secret.txt` },
      });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/Access denied|outside allowed/i);
      expect(text(result)).not.toContain('launch codes');
      const verified = await harness.receipts.verify(receiptIndex(result));
      expect(verified.predicate).toMatchObject({
        policy: { effect: 'allow' },
        resultDigest: expect.any(String),
      });
    } finally {
      await harness.close();
    }
  });
});
