import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { OacpError } from '../core/errors.js';
import type { ServerEntry } from './entry.js';
import type { ClientErrorCode } from './errors.js';
import type { ClientFormat } from './locations.js';

/** A client's whole configuration file, with its servers map found under the format's key. */
export interface ClientDocument {
  readonly root: Record<string, unknown>;
  readonly servers: Record<string, ServerEntry>;
}

export function parseClientFile(text: string, format: ClientFormat, path: string): ClientDocument {
  let root: unknown;
  try {
    root = text.trim() === '' ? {} : format.syntax === 'json' ? JSON.parse(text) : parseToml(text);
  } catch (error) {
    throw new OacpError<ClientErrorCode>(
      'CLIENT_CONFIG_FORMAT',
      `${path} is not valid ${format.syntax.toUpperCase()}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new OacpError<ClientErrorCode>(
      'CLIENT_CONFIG_FORMAT',
      `${path}: expected an object at the top level`,
    );
  }
  const servers = (root as Record<string, unknown>)[format.key] ?? {};
  if (servers === null || typeof servers !== 'object' || Array.isArray(servers)) {
    throw new OacpError<ClientErrorCode>(
      'CLIENT_CONFIG_FORMAT',
      `${path}: "${format.key}" is not a mapping of servers`,
    );
  }
  return { root: root as Record<string, unknown>, servers: servers as Record<string, ServerEntry> };
}

export function renderClientFile(document: ClientDocument, format: ClientFormat): string {
  const root = { ...document.root, [format.key]: document.servers };
  return format.syntax === 'json' ? `${JSON.stringify(root, null, 2)}\n` : `${stringifyToml(root)}\n`;
}
