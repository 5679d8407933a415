import { join } from 'node:path';

export const CLIENTS = ['claude', 'cursor', 'vscode', 'windsurf', 'codex'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** How a client's file is laid out: a JSON object under a key, or Codex's TOML tables. */
export interface ClientFormat {
  readonly client: ClientName;
  readonly syntax: 'json' | 'toml';
  /** The key holding the servers: `mcpServers`, VS Code's `servers`, Codex's `mcp_servers`. */
  readonly key: string;
}

export const FORMATS: Record<ClientName, ClientFormat> = {
  claude: { client: 'claude', syntax: 'json', key: 'mcpServers' },
  cursor: { client: 'cursor', syntax: 'json', key: 'mcpServers' },
  vscode: { client: 'vscode', syntax: 'json', key: 'servers' },
  windsurf: { client: 'windsurf', syntax: 'json', key: 'mcpServers' },
  codex: { client: 'codex', syntax: 'toml', key: 'mcp_servers' },
};

/**
 * Where each client documents its MCP configuration: Claude Desktop's
 * claude_desktop_config.json (per platform), Cursor's ~/.cursor/mcp.json,
 * VS Code's workspace .vscode/mcp.json, Windsurf's
 * ~/.codeium/windsurf/mcp_config.json, Codex's ~/.codex/config.toml.
 */
export function defaultConfigPath(
  client: ClientName,
  where: {
    readonly home: string;
    readonly cwd: string;
    readonly platform: NodeJS.Platform;
    readonly appData?: string;
  },
): string {
  switch (client) {
    case 'claude':
      if (where.platform === 'darwin') {
        return join(where.home, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json');
      }
      if (where.platform === 'win32') {
        return join(
          where.appData ?? join(where.home, 'AppData', 'Roaming'),
          'Claude',
          'claude_desktop_config.json',
        );
      }
      return join(where.home, '.config', 'Claude', 'claude_desktop_config.json');
    case 'cursor':
      return join(where.home, '.cursor', 'mcp.json');
    case 'vscode':
      return join(where.cwd, '.vscode', 'mcp.json');
    case 'windsurf':
      return join(where.home, '.codeium', 'windsurf', 'mcp_config.json');
    case 'codex':
      return join(where.home, '.codex', 'config.toml');
  }
}
