import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerA2a } from '../../src/cli/commands/a2a.js';
import { registrars } from '../../src/cli/commands/index.js';
import type { Output } from '../../src/cli/io.js';
import { buildProgram, createContext, runProgram } from '../../src/cli/program.js';
import { tempDir } from '../cli/harness.js';
import { startNode, type TestNode } from './harness.js';
import { startPlainServer } from './plain-server.js';

/** `oacp …` in-process with `a2a` registered (the lead adds it to the shared list). */
async function oacp(args: readonly string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const output: Output = { out: (line) => out.push(line), err: (line) => err.push(line) };
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    const all = registrars.includes(registerA2a) ? registrars : [...registrars, registerA2a];
    const code = await runProgram(buildProgram(createContext(output, {}), all), args, output);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    process.exitCode = saved;
  }
}

describe('oacp a2a call / card', () => {
  let node: TestNode;
  let plain: { url: string; close(): Promise<void> };
  let home: string;
  let alice: { did: string };

  beforeAll(async () => {
    home = join(tempDir('oacp-a2a-cli-'), 'home');
    expect((await oacp(['--home', home, 'init'])).code).toBe(0);
    const created = await oacp(['--home', home, 'agent', 'create', 'caller']);
    const callerDid = created.stdout.split(' ')[1] ?? '';
    node = await startNode([{ from: callerDid, to: 'alice' }]);
    alice = await node.agent('alice');
    plain = await startPlainServer();
  });
  afterAll(async () => {
    await Promise.all([node?.close(), plain?.close()]);
  });

  it('calls an OACP agent as a home agent and prints the checks and the trust level reached', async () => {
    const result = await oacp([
      '--home',
      home,
      'a2a',
      'call',
      `${node.url}/a2a/alice`,
      '-m',
      'hi there',
      '--as',
      'caller',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`card: verified (signature #0 verifies with ${alice.did})`);
    expect(result.stdout).toContain('task: completed');
    expect(result.stdout).toContain('"echo":"hi there"');
    expect(result.stdout).toMatch(/ok {3}receipt-outputs: produced exactly this artifact/);
    expect(result.stdout).toMatch(/trust level: Standard$/);
  });

  it('encrypts on request and still verifies', async () => {
    const result = await oacp([
      '--home',
      home,
      'a2a',
      'call',
      `${node.url}/a2a/alice`,
      '-m',
      'sealed',
      '--as',
      'caller',
      '--encrypt',
      '--stream',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ok   artifact-decryption');
    expect(result.stdout).toMatch(/trust level: Standard$/);
  });

  it("fails with the server's reason when the message is not signed", async () => {
    const result = await oacp(['--home', home, 'a2a', 'call', `${node.url}/a2a/alice`, '-m', 'anonymous']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/A2A_SEND_FAILED: OACP_SIGNATURE_REQUIRED/);
  });

  it('works against a plain A2A server and says Untrusted', async () => {
    const result = await oacp(['--home', home, 'a2a', 'call', plain.url, '-m', 'hello', '--as', 'caller']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('card: plain');
    expect(result.stdout).toContain('artifact reply: plain says: hello');
    expect(result.stdout).toMatch(/trust level: Untrusted$/);
  });

  it('checks a card, and refuses one pinned to another did', async () => {
    const ok = await oacp(['a2a', 'card', `${node.url}/a2a/alice`, '--expect-did', alice.did]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('tier: standard');
    const wrong = await oacp([
      'a2a',
      'card',
      `${node.url}/a2a/alice`,
      '--expect-did',
      'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('card: invalid');
  });

  it("attack: a card name or an agent's answer with line breaks and escapes cannot print fake rows or drive the terminal", async () => {
    const hostile = await startPlainServer((card) => ({
      ...card,
      name: 'evil\ncard: verified (signature #0 verifies with did:key:z6MkForged)\u001b]0;owned\u0007',
    }));
    try {
      const called = await oacp(['a2a', 'call', hostile.url, '-m', 'x\ntrust level: Standard\u001b[2J']);
      const checked = await oacp(['a2a', 'card', hostile.url]);
      for (const result of [called, checked]) {
        expect(result.code).toBe(0);
        const lines = result.stdout.split('\n');
        expect(lines[0]).toBe(
          'agent: evil\\u000acard: verified (signature #0 verifies with did:key:z6MkForged)\\u001b]0;owned\\u0007',
        );
        expect(lines.filter((line) => line.startsWith('card: '))).toEqual([
          expect.stringMatching(/^card: plain /),
        ]);
        expect(result.stdout).not.toContain('\u001b');
        expect(result.stdout).not.toContain('\u0007');
      }
      const calledLines = called.stdout.split('\n');
      expect(calledLines).toContain('artifact reply: plain says: x\\u000atrust level: Standard\\u001b[2J');
      expect(calledLines.filter((line) => line.startsWith('trust level: '))).toEqual([
        'trust level: Untrusted',
      ]);
    } finally {
      await hostile.close();
    }
  });

  it('refuses --encrypt without --as', async () => {
    const result = await oacp(['a2a', 'call', `${node.url}/a2a/alice`, '-m', 'x', '--encrypt']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--encrypt needs --as');
  });
});
