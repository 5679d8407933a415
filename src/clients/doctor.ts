import { existsSync } from 'node:fs';
import { isWrapped, type OacpLauncher } from './entry.js';
import { parseClientFile } from './file-format.js';
import type { ClientFormat } from './locations.js';
import { readClientFile } from './read-client-file.js';

export interface DoctorFinding {
  readonly server: string;
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * `oacp mcp doctor --client X`: for each server in the client's file, whether
 * it runs through OACP, and whether the OACP it names can be started.
 */
export function checkClient(path: string, format: ClientFormat, launcher: OacpLauncher): DoctorFinding[] {
  if (!existsSync(path)) return [{ server: '-', ok: false, detail: `no configuration at ${path}` }];
  const document = parseClientFile(readClientFile(path), format, path);
  const names = Object.keys(document.servers);
  if (names.length === 0) return [{ server: '-', ok: true, detail: `${path} lists no MCP servers` }];
  return names.map((server) => {
    const entry = document.servers[server] ?? {};
    if (!isWrapped(entry, launcher)) {
      const runsOacp = entry.args?.includes('mcp') === true && entry.args.includes('run');
      return {
        server,
        ok: false,
        detail: runsOacp
          ? `starts OACP through a different launcher (${entry.command ?? '?'}); run oacp mcp install --client ${format.client} to update it`
          : `runs outside OACP (no sandbox, no receipts): oacp mcp install --client ${format.client}`,
      };
    }
    const missing = [launcher.command, ...launcher.args.filter((arg) => arg.startsWith('/'))].find(
      (file) => file.startsWith('/') && !existsSync(file),
    );
    return missing === undefined
      ? { server, ok: true, detail: 'runs through oacp mcp run' }
      : {
          server,
          ok: false,
          detail: `runs through OACP, but ${missing} does not exist (reinstall OACP, then oacp mcp install)`,
        };
  });
}
