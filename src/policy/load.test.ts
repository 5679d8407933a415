import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OacpError } from '../core/errors.js';
import { loadPolicies, loadPolicyFile } from './load.js';

function loadError(text: string, source?: string): OacpError {
  try {
    loadPolicies(text, source);
  } catch (error) {
    if (error instanceof OacpError) return error;
    throw error;
  }
  throw new Error('expected the policy to be refused');
}

describe('loadPolicies', () => {
  it('refuses a syntax error, naming file, line and column', () => {
    const error = loadError(
      'permit(principal, action, resource);\n\npermit(principal action, resource);\n',
      'p.cedar',
    );
    expect(error.code).toBe('POLICY_SYNTAX');
    expect(error.message).toMatch(/^p\.cedar:3:18: .*unexpected token `action`/);
  });

  it('refuses an unknown entity type (schema violation) with its line', () => {
    const error = loadError(
      'permit(principal, action, resource);\npermit(principal == User::"x", action, resource);',
    );
    expect(error.code).toBe('POLICY_SCHEMA');
    expect(error.message).toMatch(/^<inline>:2:\d+: .*unrecognized entity type `User`/);
  });

  it('refuses an unknown context attribute and suggests the right one', () => {
    const error = loadError('permit(principal, action, resource) when { context.serverr == "x" };');
    expect(error.code).toBe('POLICY_SCHEMA');
    expect(error.message).toMatch(/attribute `serverr` in context .* not found.*did you mean `server`/);
  });

  it('refuses a type error on a declared attribute', () => {
    const error = loadError('permit(principal, action, resource) when { context.server < 3 };');
    expect(error.code).toBe('POLICY_SCHEMA');
    expect(error.message).toMatch(/expected Long but saw String/);
  });

  it('refuses an action the schema does not name (resources/list is not policed)', () => {
    const error = loadError('permit(principal, action == Action::"resources/list", resource);');
    expect(error.code).toBe('POLICY_SCHEMA');
  });

  it('accepts the policed reads on their own resource types', () => {
    expect(() =>
      loadPolicies(
        'forbid(principal, action == Action::"resources/read", resource == Resource::"file:///etc/passwd");\n' +
          'forbid(principal, action == Action::"prompts/get", resource == Prompt::"p");',
      ),
    ).not.toThrow();
  });

  it('accepts any attribute under context.arguments but still checks the rest of the expression', () => {
    expect(() =>
      loadPolicies(
        'permit(principal, action, resource) when { context.arguments.anything.nested like "x*" };',
      ),
    ).not.toThrow();
    const error = loadError(
      'permit(principal, action, resource) when { context.arguments.p == "a" && context.serve == "x" };',
    );
    expect(error.message).toMatch(/serve/);
  });

  it('refuses two policies with the same @id', () => {
    const error = loadError(
      '@id("a") permit(principal, action, resource);\n@id("a") forbid(principal, action, resource);',
    );
    expect(error.code).toBe('POLICY_DUPLICATE_ID');
  });

  it('maps positional ids to @id annotations beyond ten policies', () => {
    const names = ['zeta', 'alpha', 'mid', 'beta', 'omega', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b'];
    const text = names
      .map((n, i) => `@id("${n}") forbid(principal, action, resource == Tool::"t${i}");`)
      .join('\n');
    const loaded = loadPolicies(text);
    names.forEach((n, i) => {
      expect(loaded.displayIds.get(`policy${i}`)).toBe(n);
    });
  });

  it('reads a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oacp-policy-'));
    const good = join(dir, 'good.cedar');
    writeFileSync(good, 'permit(principal, action, resource);');
    expect(loadPolicyFile(good).source).toBe(good);
    const bad = join(dir, 'bad.cedar');
    writeFileSync(bad, 'permit(');
    expect(() => loadPolicyFile(bad)).toThrow(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1:`),
    );
    expect(() => loadPolicyFile(join(dir, 'missing.cedar'))).toThrow(/cannot read policy file/);
  });
});
