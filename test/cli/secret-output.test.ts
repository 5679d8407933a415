import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Output } from '../../src/cli/io.js';
import { buildProgram, createContext, runProgram } from '../../src/cli/program.js';

describe('CLI output and the live secret values', () => {
  it('never prints OACP_MASTER_KEY, in any spelling, on stdout, stderr or in a failure line', async () => {
    const key = randomBytes(32);
    const lines: string[] = [];
    const output: Output = { out: (line) => lines.push(line), err: (line) => lines.push(line) };
    const context = createContext(output, { OACP_MASTER_KEY: key.toString('hex') });
    const program = buildProgram(context, [
      (root, ctx) => {
        root.command('leak').action(() => {
          ctx.output.out(`stdout ${key.toString('base64')}`);
          ctx.output.err(`stderr ${key.toString('hex').toUpperCase()}`);
          throw new Error(`failed with key ${key.toString('hex')} (${key.toString('base64url')})`);
        });
      },
    ]);
    expect(await runProgram(program, ['leak'], context.output)).toBe(1);
    const text = lines.join('\n');
    expect(text).toContain('failed with key [REDACTED]');
    for (const form of ['hex', 'base64', 'base64url'] as const) {
      expect(text).not.toContain(key.toString(form));
      expect(text.toLowerCase()).not.toContain(key.toString('hex'));
    }
  });

  it('masks what `mcp run` registers for its servers in later lines of the same process', () => {
    const lines: string[] = [];
    const context = createContext({ out: (line) => lines.push(line), err: (line) => lines.push(line) }, {});
    context.secrets.add(['q7Zt2mVx9KpL4wRb8NcY']);
    context.output.err('oacp: server failed: token q7Zt2mVx9KpL4wRb8NcY refused');
    expect(lines).toEqual(['oacp: server failed: token [REDACTED] refused']);
  });
});
