import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGateway, type Gateway } from '../../gateway/gateway.js';
import { type LogLevel, stderrLogger } from '../../gateway/observability/logger.js';
import { CliExit, type Output } from '../io.js';
import type { CommandRegistrar } from '../program.js';

export interface GatewayCommandOptions {
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly output: Output;
  readonly config?: string;
  readonly listen?: string;
  readonly store?: string;
  readonly insecure?: boolean;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly logLevel?: LogLevel;
  /** Ends the gateway (tests); SIGINT and SIGTERM always do. */
  readonly signal?: AbortSignal;
  /** Called once the gateway listens (tests). */
  readonly onListening?: (gateway: Gateway) => void;
}

/** Where the first admin key is written when the store has none (0600, shown once). */
export const ADMIN_KEY_FILE = 'gateway-admin.key';

/**
 * `oacp gateway`: starts the gateway and serves until SIGINT or SIGTERM, then
 * shuts down in order (stop accepting, stop agents, flush the log and traces,
 * close the store). On a store without API keys it creates one admin key and
 * writes it to <home>/gateway-admin.key (owner-only) rather than printing it.
 */
export async function runGatewayCommand(options: GatewayCommandOptions): Promise<void> {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new CliExit('give both --tls-cert and --tls-key, or neither', 2);
  }
  const gateway = await createGateway({
    home: options.home,
    env: options.env,
    ...(options.config === undefined ? {} : { configPath: options.config }),
    ...(options.listen === undefined ? {} : { listen: options.listen }),
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.insecure === undefined ? {} : { insecure: options.insecure }),
    ...(options.tlsCert === undefined || options.tlsKey === undefined
      ? {}
      : { tls: { cert: options.tlsCert, key: options.tlsKey } }),
    logger: stderrLogger(options.logLevel ?? 'info'),
  });
  let url: URL;
  try {
    url = await gateway.listen();
    if ((await gateway.apiKeys.list()).length === 0) {
      const admin = await gateway.apiKeys.create({ scopes: ['admin'], label: 'bootstrap admin' });
      const path = join(options.home, ADMIN_KEY_FILE);
      // A key file already there is from an earlier store (this one has no key at all, e.g. a store accepted with
      // `oacp store accept` after it was dropped): its key opens nothing, so it is replaced, whole, not appended to.
      const stale = existsSync(path);
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, `${admin.key}\n`, { mode: 0o600, flag: 'wx' });
      renameSync(temp, path);
      options.output.out(
        `created the first API key (admin): ${path}${stale ? ' (in place of a key of an earlier store, which this store does not know)' : ''}`,
      );
    }
  } catch (error) {
    await gateway.close();
    throw error;
  }
  options.output.out(`oacp gateway listening on ${url.href} (log ${gateway.node.origin})`);
  options.onListening?.(gateway);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    options.signal?.addEventListener('abort', stop, { once: true });
  });
  await gateway.close();
  options.output.out('oacp gateway stopped');
}

export const registerGateway: CommandRegistrar = (program, context) => {
  program
    .command('gateway')
    .description('serve the gateway HTTP API: agents, tools, context, receipts (docs/gateway.md)')
    .option('--config <file>', 'oacp.yaml (docs/gateway-config.md)')
    .option('--listen <host:port>', 'listen address (default: gateway.listen, 127.0.0.1:8080)')
    .option('--store <location>', 'SQLite file or postgres:// URL (default: <home>/gateway.db)')
    .option('--insecure', 'allow plain HTTP on a non-loopback address (a TLS proxy in front)')
    .option('--tls-cert <file>', 'PEM certificate; with --tls-key the gateway serves HTTPS only')
    .option('--tls-key <file>', 'PEM private key')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .action(
      async (
        options: {
          config?: string;
          listen?: string;
          store?: string;
          insecure?: boolean;
          tlsCert?: string;
          tlsKey?: string;
          logLevel: string;
        },
        command,
      ) => {
        if (!['debug', 'info', 'warn', 'error'].includes(options.logLevel)) {
          throw new CliExit(
            `--log-level must be debug, info, warn or error, not ${JSON.stringify(options.logLevel)}`,
            2,
          );
        }
        await runGatewayCommand({
          home: context.home(command),
          env: context.env,
          output: context.output,
          ...(options.config === undefined ? {} : { config: options.config }),
          ...(options.listen === undefined ? {} : { listen: options.listen }),
          ...(options.store === undefined ? {} : { store: options.store }),
          ...(options.insecure === undefined ? {} : { insecure: options.insecure }),
          ...(options.tlsCert === undefined ? {} : { tlsCert: options.tlsCert }),
          ...(options.tlsKey === undefined ? {} : { tlsKey: options.tlsKey }),
          logLevel: options.logLevel as LogLevel,
        });
      },
    );
};
