import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvelopeBytes } from '../../src/attest/receipt.js';
import { verifyReceiptEnvelope } from '../../src/attest/verify-receipt.js';
import { describeWorkload } from '../../src/cli/commands/workload.js';
import { OacpNode } from '../../src/node/oacp-node.js';
import { withLogState } from '../log-state.js';
import { HARDENED_RUN_AS_UID1000, oacp, oacpBinary, tempDir } from './harness.js';

/**
 * `oacp run` in the hardened tier as this account may: a regular user on a
 * cgroup v1 host opts out of the controllers it cannot use (the refusal
 * without the opt-out is test/escape/native-unenforced.test.ts).
 */
const HARDENED_RUN =
  process.getuid?.() === 0 ? ['run', '--no-receipt', '--tier', 'hardened'] : [...HARDENED_RUN_AS_UID1000];

describe('oacp run', () => {
  it('grants the interpreter and its script, never the files a command merely names', () => {
    const cat = describeWorkload('t', '/bin/cat', ['/etc/shadow']);
    expect(cat.implicitReadPaths.some((path) => path.startsWith('/etc'))).toBe(false);
    expect(cat.codeFiles.map((file) => file.path)).not.toContain('/etc/shadow');

    const script = join(tempDir(), 'tool.js');
    writeFileSync(script, 'console.log(1)');
    const node = describeWorkload('t', process.execPath, [script]);
    expect(node.implicitReadPaths).toContain(script);
    expect(node.codeFiles.map((file) => file.path)).toContain(script);
  });

  it('keeps host files out of the hardened tier, even when named on the command line', () => {
    const result = oacpBinary([...HARDENED_RUN, '--', '/bin/cat', '/etc/shadow']);
    expect(result.code).not.toBe(0);
    expect(result.stdout).not.toContain('root:');
    expect(result.stderr).toContain('No such file');
  });

  it('fault: a run writing 100 MiB to its /tmp (also its HOME) fills the 64 MiB default; --quota-tmp 256mb makes room', () => {
    // The tmpfs binds whether or not the cgroup controllers are used.
    const run = HARDENED_RUN;
    const fill = ['--', '/bin/sh', '-c', 'head -c 104857600 /dev/zero > /tmp/fill && echo wrote'];
    const refused = oacpBinary([...run, ...fill]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/No space left on device/);
    const raised = oacpBinary([...run, '--quota-tmp', '256mb', ...fill]);
    expect(raised.stderr).toBe('');
    expect(raised.stdout).toBe('wrote\n');
    expect(raised.code).toBe(0);
  });

  it("returns the workload's own exit status", () => {
    const result = oacpBinary([...HARDENED_RUN, '--', '/bin/sh', '-c', 'echo out; exit 3']);
    expect(result.stdout).toBe('out\n');
    expect(result.code).toBe(3);
  });

  it('runs a JavaScript agent in the standard tier and records a verifiable execution receipt', async () => {
    const home = join(tempDir(), 'home');
    await oacp(['--home', home, 'init']);
    const agent = join(tempDir(), 'agent.js');
    writeFileSync(agent, '({ doubled: input.n * 2 })');
    const result = oacpBinary(['--home', home, 'run', agent, '--input', '{"n":21}', '--receipt']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ doubled: 42 });
    expect(result.stderr).toMatch(/execution receipt 0 in log/);

    const node = await OacpNode.open(home, withLogState({}));
    try {
      const envelope = parseEnvelopeBytes(await node.log.entry(0));
      const verified = verifyReceiptEnvelope(envelope, { airlockKeys: [node.keys.publicKeys().airlock.raw] });
      expect(verified.ok).toBe(true);
      expect(verified.statement?.predicate).toMatchObject({ tier: 'standard', exit: { code: 0 } });
    } finally {
      await node.close();
    }
  });

  it('stops a runaway agent at its CPU quota and says which quota', () => {
    const agent = join(tempDir(), 'loop.js');
    writeFileSync(agent, 'while (true) {}');
    const result = oacpBinary(['run', '--no-receipt', agent, '--quota-cpu', '200ms']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('WASM_CPU_LIMIT');
    expect(result.stderr).toContain('cpu_ms_per_request');
  });

  it('refuses a tier the host cannot provide, saying how to enable it, instead of falling back', () => {
    const result = oacpBinary(['run', '--no-receipt', '--tier', 'tee', '--', '/bin/true']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/AIRLOCK_TIER_UNAVAILABLE: tier tee is not available: .*remedy: /);
  });

  it('rejects an unknown tier and a malformed grant as usage errors', async () => {
    expect((await oacp(['run', '--tier', 'docker', '--', '/bin/true'])).code).toBe(2);
    const bad = await oacp(['run', '--allow-files', 'relative/path', '--', '/bin/true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--allow-files');
  });

  it('attack: a zero or negative quota (oacp run, oacp mcp run) is refused naming the flag, never made 1 ms or 1 MB', async () => {
    for (const [flag, value] of [
      ['--quota-cpu', '0'],
      ['--quota-cpu', '0s'],
      ['--quota-cpu', '-1s'],
      ['--quota-memory', '0'],
      ['--quota-memory', '0mb'],
      ['--quota-memory', '-5mb'],
      ['--quota-tmp', '0'],
      ['--quota-tmp', '0mb'],
      ['--quota-tmp', '-5mb'],
      ['--quota-tmp', 'lots'],
    ] as const) {
      const run = await oacp(['run', '--no-receipt', '--tier', 'light', flag, value, '--', '/bin/true']);
      expect(run.code, `${flag} ${value}`).toBe(2);
      expect(run.stderr).toMatch(
        new RegExp(`^oacp: ${flag} ${value}: must be (a duration|a size) .*greater than 0$`),
      );
      const mcp = await oacp(['mcp', 'run', '--tier', 'light', flag, value, '--', '/bin/true']);
      // The same refusal, worded and exiting as `oacp run` does.
      expect(mcp.code, `mcp ${flag} ${value}`).toBe(2);
      expect(mcp.stderr).toMatch(
        new RegExp(`^oacp: ${flag} ${value}: must be (a duration|a size) .*greater than 0$`),
      );
    }
    const calls = await oacp(['mcp', 'run', '--tier', 'light', '--quota-calls', '0/min', '--', '/bin/true']);
    expect(calls.code).toBe(2);
    expect(calls.stderr).toBe('oacp: --quota-calls 0/min: must allow at least some calls');
  });

  it("attack: --allow-network naming loopback (oacp run, oacp mcp run) is refused naming the flag, since the proxy would dial the host's own loopback", async () => {
    for (const entry of [
      'localhost',
      'LOCALHOST.:8080',
      'localhost.localdomain',
      'ip6-localhost:80',
      '*.localhost',
      '127.0.0.1',
      '127.1.2.3:5432',
      '[::1]:80',
      '::ffff:127.0.0.1',
      '0.0.0.0',
      '[::]',
      '2002:7f00:1::',
    ]) {
      for (const command of ['run', 'mcp run']) {
        const result = await oacp(
          [
            ...command.split(' '),
            '--no-receipt',
            '--tier',
            'light',
            '--allow-network',
            entry,
            '--',
            '/bin/true',
          ].filter((arg) => command === 'run' || arg !== '--no-receipt'),
        );
        expect(result.code, `${command} ${entry}`).toBe(2);
        expect(result.stderr).toMatch(
          new RegExp(
            `^oacp: --allow-network ${entry.replace(/[.*[\]]/g, '\\$&')}: \\S+ is a loopback .*loopback is the host's`,
          ),
        );
      }
    }
    // A public host and a private one are still granted as before.
    const fine = await oacp([
      'run',
      '--no-receipt',
      '--tier',
      'light',
      '--allow-network',
      'example.com',
      '--allow-network',
      '10.0.0.5',
      '--',
      '/bin/true',
    ]);
    expect([fine.code, fine.stderr]).toEqual([0, '']);
  });
});
