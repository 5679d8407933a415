import { describe, expect, it } from 'vitest';
import { decideEnv } from '../../capability/name-policy.js';
import { deferLoaderVariables, LOADER_ENV_PREFIX } from './loader-env.js';

describe('loader variables travel renamed to the workload', () => {
  it('renames every LD_* and the variables glibc drops for set-id programs, and nothing else', () => {
    const env = {
      LD_PRELOAD: '/grant/hook.so',
      LD_LIBRARY_PATH: '/grant/lib',
      LD_AUDIT: '/grant/audit.so',
      GCONV_PATH: '/grant/gconv',
      GLIBC_TUNABLES: 'glibc.malloc.check=3',
      MALLOC_TRACE: '/grant/trace',
      PATH: '/usr/bin:/bin',
      HOME: '/home/x',
      OLD_LD_PRELOAD: 'kept',
      NODE_OPTIONS: '--require /grant/x.js',
    };
    expect(deferLoaderVariables(env)).toEqual({
      OACP_LOADER_ENV_LD_PRELOAD: '/grant/hook.so',
      OACP_LOADER_ENV_LD_LIBRARY_PATH: '/grant/lib',
      OACP_LOADER_ENV_LD_AUDIT: '/grant/audit.so',
      OACP_LOADER_ENV_GCONV_PATH: '/grant/gconv',
      OACP_LOADER_ENV_GLIBC_TUNABLES: 'glibc.malloc.check=3',
      OACP_LOADER_ENV_MALLOC_TRACE: '/grant/trace',
      PATH: '/usr/bin:/bin',
      HOME: '/home/x',
      OLD_LD_PRELOAD: 'kept',
      NODE_OPTIONS: '--require /grant/x.js',
    });
  });

  it('cannot be spoofed: no manifest pattern passes a host variable with the prefix into a sandbox', () => {
    expect(decideEnv(['*'], `${LOADER_ENV_PREFIX}LD_PRELOAD`).effect).toBe('deny');
  });
});
