import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProcessSandbox } from '../../src/airlock/sandbox.js';
import { processUpstream } from '../../src/mcp/upstream.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('processUpstream without a stderr sink of its own', () => {
  it("writes a server's stderr with its terminal escapes shown, not acted on", async () => {
    // A real process as the server; no tier is needed to see what the default sink does with its stderr.
    const child = spawn(
      process.execPath,
      [
        '-e',
        "process.stderr.write('\\x1b]52;c;cHduZWQ=\\x07title\\x1b[2Jcleared\\n'); setTimeout(() => {}, 300)",
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const sandbox = {
      kind: 'process',
      tier: 'light',
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      exit,
      usage: () => ({}),
      stop: async () => {
        child.kill('SIGKILL');
      },
    } as unknown as ProcessSandbox;
    const written: string[] = [];
    const real = process.stderr.write.bind(process.stderr);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      if (text.includes('title')) {
        written.push(text);
        return true;
      }
      return (real as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
    const upstream = processUpstream({
      identity: { name: 'noisy', command: process.execPath, args: [] } as never,
      start: async () => sandbox,
    });
    const connection = await upstream.connect();
    await exit;
    await connection.stop();
    expect(written.join('')).toContain('\\x1b]52;c;cHduZWQ=\\x07title\\x1b[2Jcleared');
    expect(written.join('')).not.toContain('\u001b');
    expect(written.join('')).not.toContain('\u0007');
  });
});
