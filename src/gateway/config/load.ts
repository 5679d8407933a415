import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { describeIssues, fieldPath } from '../../capability/issues.js';
import { OacpError } from '../../core/errors.js';
import { inputFileFailure, readInputText } from '../../core/input-file.js';
import type { ConfigErrorCode } from './errors.js';
import { lineOf } from './locate.js';
import { type GatewayConfig, GatewayConfigSchema } from './schema.js';

/**
 * Validates a parsed oacp.yaml document. Every problem is reported, each as
 * `key.path: what is wrong`; nothing invalid is replaced by a default.
 * Relative file paths are resolved against `baseDir` (the file's folder).
 */
export function parseGatewayConfig(
  document: unknown,
  baseDir: string,
  source = 'oacp.yaml',
  lineAt?: (path: readonly PropertyKey[], unknownKey?: string) => number | undefined,
): GatewayConfig {
  // An empty file is an empty mapping: every section takes its defaults.
  const parsed = GatewayConfigSchema.safeParse(document ?? {});
  if (!parsed.success) {
    throw new OacpError<ConfigErrorCode>(
      'GATEWAY_CONFIG_INVALID',
      lineAt === undefined
        ? `${source}: ${describeIssues(parsed.error)}`
        : locatedIssues(parsed.error, source, lineAt),
    );
  }
  return resolvePaths(parsed.data, baseDir);
}

/** Reads and validates oacp.yaml (YAML 1.2; JSON is YAML too). */
export function loadGatewayConfig(path: string): GatewayConfig {
  let text: string;
  try {
    text = readInputText(path);
  } catch (error) {
    throw new OacpError<ConfigErrorCode>(
      'GATEWAY_CONFIG_UNREADABLE',
      `cannot read ${path}: ${inputFileFailure(error)}`,
    );
  }
  // uniqueKeys: a key given twice is a mistake, not "the last one wins".
  const counter = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: counter });
  const problem = document.errors[0];
  if (problem !== undefined) {
    const line = problem.linePos?.[0]?.line;
    throw new OacpError<ConfigErrorCode>(
      'GATEWAY_CONFIG_INVALID',
      `${path}${line === undefined ? '' : `:${line}`}: not valid YAML: ${problem.message.split('\n')[0] ?? 'syntax error'}`,
    );
  }
  const lineAt = (at: readonly PropertyKey[], key?: string) => lineOf(document, counter, at, key);
  let value: unknown;
  try {
    value = document.toJS();
  } catch (error) {
    // The YAML library refuses an alias bomb (aliases that expand to billions of nodes) only here.
    throw new OacpError<ConfigErrorCode>(
      'GATEWAY_CONFIG_INVALID',
      `${path}: not valid YAML: ${error instanceof Error ? (error.message.split('\n')[0] ?? 'unusable') : 'unusable'}`,
    );
  }
  const config = parseGatewayConfig(value, dirname(resolve(path)), path, lineAt);
  const missing = missingFiles(config).map(({ at, file }) => {
    const line = lineAt(at);
    return `${path}${line === undefined ? '' : `:${line}`}: ${fieldPath(at)}: no such file ${file}`;
  });
  if (missing.length > 0) {
    throw new OacpError<ConfigErrorCode>('GATEWAY_CONFIG_INVALID', missing.join('; '));
  }
  return config;
}

/** Files the configuration names that must exist before anything starts (TLS, policies, manifests). */
function missingFiles(config: GatewayConfig): { at: PropertyKey[]; file: string }[] {
  const named: { at: PropertyKey[]; file: string | undefined }[] = [
    { at: ['gateway', 'tls', 'cert'], file: config.gateway.tls?.cert },
    { at: ['gateway', 'tls', 'key'], file: config.gateway.tls?.key },
    ...(typeof config.cluster?.tls === 'object'
      ? [
          { at: ['cluster', 'tls', 'ca'], file: config.cluster.tls.ca },
          { at: ['cluster', 'tls', 'cert'], file: config.cluster.tls.cert },
          { at: ['cluster', 'tls', 'key'], file: config.cluster.tls.key },
        ]
      : []),
    ...config.policies.map((file, index) => ({ at: ['policies', index], file })),
    ...config.mcp.servers.flatMap((server, index) => [
      { at: ['mcp', 'servers', index, 'manifest'], file: server.manifest },
      { at: ['mcp', 'servers', index, 'policy'], file: server.policy },
    ]),
  ];
  return named.flatMap(({ at, file }) => (file === undefined || existsSync(file) ? [] : [{ at, file }]));
}

/** `FILE:LINE: key.path: reason`, one per problem, joined by "; ". */
function locatedIssues(
  error: z.ZodError,
  source: string,
  lineAt: (path: readonly PropertyKey[], unknownKey?: string) => number | undefined,
): string {
  return error.issues
    .flatMap((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => {
          const line = lineAt(issue.path, key);
          return `${source}${line === undefined ? '' : `:${line}`}: ${fieldPath([...issue.path, key])}: unknown field "${key}"`;
        });
      }
      const line = lineAt(issue.path);
      return [
        `${source}${line === undefined ? '' : `:${line}`}: ${fieldPath(issue.path) || '(top level)'}: ${issue.message}`,
      ];
    })
    .filter((line, index, lines) => lines.indexOf(line) === index)
    .join('; ');
}

function resolvePaths(config: GatewayConfig, baseDir: string): GatewayConfig {
  const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const optional = (path: string | undefined) => (path === undefined ? {} : { value: at(path) });
  const store = config.gateway.store;
  return {
    ...config,
    gateway: {
      ...config.gateway,
      ...(config.gateway.tls === undefined
        ? {}
        : { tls: { cert: at(config.gateway.tls.cert), key: at(config.gateway.tls.key) } }),
      // A postgres:// URL stays as it is; a file path is resolved like any other path.
      ...(store === undefined || /^[a-z][a-z0-9+.-]*:\/\//i.test(store)
        ? {}
        : { store: store.startsWith('sqlite:') ? `sqlite:${at(store.slice(7))}` : at(store) }),
    },
    mcp: {
      ...config.mcp,
      servers: config.mcp.servers.map((server) => {
        const manifest = optional(server.manifest).value;
        const policy = optional(server.policy).value;
        const pins = optional(server.pins).value;
        // `./x` and `../x` in a command line are files next to oacp.yaml; other words are left as written.
        const local = (word: string) => (word.startsWith('./') || word.startsWith('../') ? at(word) : word);
        return {
          ...server,
          ...(server.command === undefined ? {} : { command: local(server.command) }),
          args: server.args.map(local),
          allow_files: server.allow_files.map(at),
          ...(manifest === undefined ? {} : { manifest }),
          ...(policy === undefined ? {} : { policy }),
          ...(pins === undefined ? {} : { pins }),
        };
      }),
    },
    policies: config.policies.map(at),
    ...(typeof config.cluster?.tls !== 'object'
      ? {}
      : {
          cluster: {
            ...config.cluster,
            tls: {
              ca: at(config.cluster.tls.ca),
              cert: at(config.cluster.tls.cert),
              key: at(config.cluster.tls.key),
            },
          },
        }),
  };
}
