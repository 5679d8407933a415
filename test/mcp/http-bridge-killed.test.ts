import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clientTokenDir } from '../../src/mcp/client-token.js';
import { deskTokenDir } from '../../src/mcp/desk-token.js';
import { httpBridgeDir } from '../../src/mcp/http-bridge-record.js';
import { freshHome } from '../gateway/service/node-home.js';
import { type CliHttpBridge, startCliHttpBridge } from './cli-http-bridge.js';

/**
 * A killed `--http` bridge (kill -9: nothing of it runs to tidy up) left its client token, its
 * approval-desk token and its record in the home for good: live secrets of a dead bridge, and a
 * doctor that could not tell a running bridge from a killed one. Each file is now held by a
 * flock for its bridge's life (src/mcp/held-file.ts): the next start removes the unheld ones and
 * never a live bridge's; `oacp doctor` reports each live bridge's client authentication.
 */
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

function files(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).map((name) => join(dir, name)) : [];
}

function everyFile(home: string): string[] {
  return [clientTokenDir, deskTokenDir, httpBridgeDir].flatMap((dir) => files(dir(home)));
}

interface DoctorHttp {
  live: {
    pid: number;
    record?: { auth: string; listen: string; token?: { source: string; file: string } };
  }[];
  stale: number;
}

function doctor(home: Awaited<ReturnType<typeof freshHome>>): { json: DoctorHttp; text: string } {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [CLI, '--home', home.home, 'doctor', ...args], {
      env: { PATH: process.env.PATH ?? '', ...home.env },
      encoding: 'utf8',
    });
  const json = run(['--json']);
  expect(json.status, json.stderr).toBe(0);
  return { json: (JSON.parse(json.stdout) as { mcpHttp: DoctorHttp }).mcpHttp, text: run([]).stdout };
}

describe('oacp mcp run --http killed with SIGKILL', () => {
  const started: CliHttpBridge[] = [];
  let home: Awaited<ReturnType<typeof freshHome>> | undefined;
  afterAll(async () => {
    for (const bridge of started) await bridge.stop();
    home?.remove();
  });

  it("attack: a killed bridge's token files are removed by the next start, a live bridge's never; doctor tells them apart", async () => {
    home = await freshHome('oacp-http-killed-');
    const killed = await startCliHttpBridge('', [], 'light', home);
    started.push(killed);
    const left = everyFile(home.home);
    // Its client token, its desk token, its record.
    expect(left).toHaveLength(3);
    await killed.kill();
    expect(everyFile(home.home).sort()).toEqual([...left].sort());
    const afterKill = doctor(home);
    expect(afterKill.json).toEqual({ live: [], stale: 1 });
    expect(afterKill.text).toContain('no --http bridge running on this home');

    const live = await startCliHttpBridge('', [], 'light', home);
    started.push(live);
    const liveFiles = everyFile(home.home);
    for (const path of left) expect(liveFiles).not.toContain(path);
    expect(liveFiles).toHaveLength(3);

    const open = await startCliHttpBridge('', ['--http-auth', 'none'], 'light', home);
    started.push(open);
    // The live bridge's files outlive another start on the home.
    for (const path of liveFiles) expect(everyFile(home.home)).toContain(path);

    const report = doctor(home);
    expect(report.json.stale).toBe(0);
    const byAuth = Object.fromEntries(report.json.live.map((bridge) => [bridge.record?.auth, bridge.record]));
    const tokenFile = files(clientTokenDir(home.home))[0];
    expect(byAuth.bearer?.token).toEqual({ source: 'generated', file: tokenFile });
    expect(byAuth.none?.token).toBeUndefined();
    expect(report.text).toMatch(
      /ok {3}pid \d+ at 127\.0\.0\.1:[1-9]\d*: bearer, a token the bridge made, in /,
    );
    expect(report.text).toMatch(
      /no {3}pid \d+ at 127\.0\.0\.1:[1-9]\d*: none \(--http-auth none\): open to every local user/,
    );
    // A report names the token's file, never the token.
    expect(report.text).not.toContain(live.token ?? 'no token');
  });
});
