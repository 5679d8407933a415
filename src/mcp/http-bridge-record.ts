import { closeSync, constants, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { type HeldFile, heldFiles, writeHeldFile } from './held-file.js';

/**
 * What a running `--http` bridge tells `oacp doctor` of its client authentication: where it
 * listens, whether clients must send a bearer token, and where that token came from (a file's
 * path, never the token). Written to `<home>/mcp-http-bridges/<pid>-<random>.bridge` and held
 * for the bridge's life (held-file.ts), so doctor tells live bridges from killed ones.
 */
export const HttpBridgeRecordSchema = z
  .object({
    pid: z.number().int().positive(),
    listen: z.string().max(300),
    auth: z.enum(['bearer', 'none']),
    /** bearer only: `generated` (a token file the bridge made) or `operator` (--http-token-file). */
    token: z.object({ source: z.enum(['generated', 'operator']), file: z.string().max(4096) }).optional(),
    started: z.string().max(40),
  })
  .strict();
export type HttpBridgeRecord = z.infer<typeof HttpBridgeRecordSchema>;

/** Where running `--http` bridges keep their records: `<home>/mcp-http-bridges/` (0700). */
export function httpBridgeDir(home: string): string {
  return join(home, 'mcp-http-bridges');
}

export function recordHttpBridge(home: string, record: HttpBridgeRecord): HeldFile {
  return writeHeldFile(
    httpBridgeDir(home),
    'bridge',
    `${JSON.stringify(record)}\n`,
    "a bridge's record",
    record.pid,
  );
}

/** A live bridge's record, or why it could not be read. */
export type LiveBridge = { readonly path: string; readonly pid: number } & (
  | { readonly record: HttpBridgeRecord }
  | { readonly unreadable: string }
);

/** The `--http` bridges running on a home, and how many records killed bridges left. */
export function httpBridges(home: string): { live: LiveBridge[]; stale: number } {
  const { live, stale } = heldFiles(httpBridgeDir(home), 'bridge');
  return {
    live: live.map(({ path, pid }) => {
      const parsed = HttpBridgeRecordSchema.safeParse(readSmall(path));
      return parsed.success
        ? { path, pid, record: parsed.data }
        : { path, pid, unreadable: 'not a bridge record this version reads' };
    }),
    stale: stale.length,
  };
}

const MAX_RECORD_BYTES = 8192;

function readSmall(path: string): unknown {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.alloc(MAX_RECORD_BYTES);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    return JSON.parse(buffer.subarray(0, read).toString('utf8'));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
