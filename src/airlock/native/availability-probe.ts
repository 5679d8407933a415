import { spawn } from 'node:child_process';

/** Runs a short command and reports whether it exited 0, with its stderr for the reason. */
export function probe(
  command: string,
  args: readonly string[],
  timeoutMs = 5_000,
  user?: { uid: number; gid: number },
): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, [...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: timeoutMs,
        env: { PATH: '/usr/bin:/bin' },
        ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
      });
    } catch (error) {
      resolve({ ok: false, output: error instanceof Error ? error.message : String(error) });
      return;
    }
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', (error) => resolve({ ok: false, output: error.message }));
    child.once('close', (code) => resolve({ ok: code === 0, output: output.trim().slice(0, 500) }));
  });
}
