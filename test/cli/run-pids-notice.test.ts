import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HardenedTier } from '../../src/airlock/native/hardened.js';
import { withLogState } from '../log-state.js';

/**
 * `oacp run` names the pids limit while a workload refused threads hangs on
 * (as Chromium did for 110 s), not only once it exits.
 */
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
const PYTHON = '/usr/bin/python3';
const ok = (await new HardenedTier().availability()).available && existsSync(BIN) && existsSync(PYTHON);
const scratch = mkdtempSync(join(tmpdir(), 'oacp-run-pids-'));
chmodSync(scratch, 0o755);
const started: ChildProcess[] = [];
// A run that never prints the line (the test times out) still goes: SIGTERM stops its sandbox too.
afterAll(() => {
  for (const child of started) child.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

const THREADS_THEN_HANG = `
import threading, time
try:
    for i in range(64):
        threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
except RuntimeError:
    pass
print("hanging", flush=True)
time.sleep(600)
`;

describe.skipIf(!ok)('oacp run: a workload hung at max_pids', () => {
  it('prints the line naming quotas.max_pids while the workload still runs', async () => {
    const manifest = join(scratch, 'manifest.json');
    const quotas =
      process.getuid?.() === 0
        ? { max_pids: 16 }
        : { max_pids: 16, allow_unenforced: ['memory', 'pids', 'cpu'] };
    writeFileSync(
      manifest,
      JSON.stringify({
        apiVersion: 'oacp.dev/v1',
        kind: 'CapabilityManifest',
        name: 'hang',
        capabilities: {},
        quotas,
      }),
    );
    const child = spawn(
      process.execPath,
      [BIN, 'run', '--no-receipt', '--manifest', manifest, '--', PYTHON, '-c', THREADS_THEN_HANG],
      { env: withLogState({ PATH: process.env.PATH }), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.push(child);
    let stderr = '';
    let running = true;
    const closed = new Promise<void>((resolve) =>
      child.once('close', () => {
        running = false;
        resolve();
      }),
    );
    const line = await new Promise<string>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const found = /^oacp: workload at a limit \(pids\).*$/m.exec(stderr);
        if (found !== null) resolve(found[0]);
      });
      void closed.then(() => resolve(`closed first: ${stderr}`));
    });
    expect(running).toBe(true);
    expect(line).toMatch(/limit of 16 processes.*raise with quotas\.max_pids/);
    child.kill('SIGTERM');
    await closed;
  }, 60_000);
});
