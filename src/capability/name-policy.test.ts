import { describe, expect, it } from 'vitest';
import { decideEnv, decideModel, decideProviderTools, decideTool } from './name-policy.js';

describe('decideTool', () => {
  const tools = { allow: ['search', 'github.*'], deny: ['github.delete_*'] };

  it('allows listed tools and prefix patterns', () => {
    expect(decideTool(tools, 'search')).toEqual({
      effect: 'allow',
      reason: 'tool "search" matches tools.allow entry "search"',
      policyId: 'capability.tools',
    });
    expect(decideTool(tools, 'github.create_issue').effect).toBe('allow');
  });

  it('denies unlisted tools and lets deny entries win', () => {
    expect(decideTool(tools, 'shell').reason).toBe('tool "shell" is not in tools.allow');
    expect(decideTool(tools, 'github.delete_repo')).toEqual({
      effect: 'deny',
      reason: 'tool "github.delete_repo" is denied by tools.deny entry "github.delete_*"',
      policyId: 'capability.tools',
    });
    expect(decideTool(tools, 'searchx').effect).toBe('deny');
  });
});

describe('deny entries read names as a lenient peer would', () => {
  it('denies case, spacing, zero-width and full-width twins of a denied tool or model; allow entries stay exact', () => {
    const tools = { allow: ['*'], deny: ['delete_file', 'shell.*'] };
    for (const name of [
      'Delete_File',
      'delete_file ',
      'delete\u200b_file',
      'ｄｅｌｅｔｅ_file',
      'SHELL.exec',
    ]) {
      expect(decideTool(tools, name).effect, name).toBe('deny');
    }
    expect(decideTool(tools, 'delete_files_report').effect).toBe('allow');
    expect(decideTool({ allow: ['read_file'], deny: [] }, 'Read_File').effect).toBe('deny');
    const models = { allow: ['*'], deny: ['gpt-4o'], provider_tools: [] };
    for (const name of ['GPT-4o', 'gpt-4o ', 'gpt\u00ad-4o'])
      expect(decideModel(models, name).effect, name).toBe('deny');
    expect(decideModel(models, 'gpt-4o-mini').effect).toBe('allow');
  });
});

describe('decideProviderTools', () => {
  it('refuses every provider tool not listed, naming the manifest field, and allows listed ones and prefixes', () => {
    const none = { allow: ['*'], deny: [], provider_tools: [] };
    expect(decideProviderTools(none, [])).toMatchObject({ effect: 'allow' });
    const refused = decideProviderTools(none, ['web_search_20250305']);
    expect(refused.effect).toBe('deny');
    expect(refused.policyId).toBe('capability.models.provider_tools');
    expect(refused.reason).toContain(
      '"web_search_20250305" is not in the agent\'s capabilities.models.provider_tools',
    );
    const some = { allow: ['*'], deny: [], provider_tools: ['web_search_*'] };
    expect(decideProviderTools(some, ['web_search_20250305']).effect).toBe('allow');
    // One tool outside the grant refuses the whole request.
    expect(decideProviderTools(some, ['web_search_20250305', 'web_fetch_20250910']).reason).toContain(
      '"web_fetch_20250910"',
    );
    expect(decideProviderTools(some, ['Web_search_20250305']).effect).toBe('deny');
  });
});

describe('decideEnv', () => {
  it('allows exact names and prefixes, denies the rest', () => {
    expect(decideEnv(['HOME', 'APP_*'], 'APP_MODE').effect).toBe('allow');
    expect(decideEnv(['HOME', 'APP_*'], 'HOME').effect).toBe('allow');
    expect(decideEnv(['HOME', 'APP_*'], 'AWS_SECRET_ACCESS_KEY').reason).toBe(
      'environment variable AWS_SECRET_ACCESS_KEY is not in the env allowlist',
    );
  });
});

describe('OACP variables never enter a sandbox', () => {
  it('denies OACP_MASTER_KEY and every OACP_* name whatever pattern would match, with the reason', () => {
    for (const patterns of [['OACP_*'], ['O*'], ['OACP_MASTER_KEY'], ['oacp_*']]) {
      const decision = decideEnv(patterns, 'OACP_MASTER_KEY');
      expect(decision.effect).toBe('deny');
      expect(decision.reason).toContain("OACP's own");
    }
    expect(decideEnv(['O*'], 'OACP_HOME').effect).toBe('deny');
    expect(decideEnv(['O*'], 'OTHER').effect).toBe('allow');
  });
});
