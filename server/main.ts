/**
 * `custody-server`: the central service's command line.
 *
 *   custody-server serve [--config FILE]          run the service (no file: embedded defaults)
 *   custody-server migrate --config FILE          apply the database migrations and stop
 *   custody-server audit verify [--config FILE]   walk the audit log's hash chain (exit 1 if broken)
 *   custody-server trust-root --out FILE [--config FILE]   write the trust root auditors load
 *
 * Embedded defaults (no --config): data in ./.custody-server (or $CUSTODY_SERVER_DATA), SQLite
 * and a blob directory there, the dev IdP on 127.0.0.1:7401 with seeded users, the service on
 * 127.0.0.1:7400. For one machine and for trying things; never for production.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { verifyChain } from './audit/audit-log.ts';
import { ConfigError, loadConfig, parseConfig, type ServiceConfig } from './config.ts';
import { DEV_ROLE_GROUPS, DEV_USERS, startDevIdp, type RunningDevIdp } from './dev-idp/dev-idp.ts';
import { loadServiceKeys, trustRootOf } from './keys/service-keys.ts';
import { openDatabase, startService } from './service.ts';

const EMBEDDED_SERVICE_PORT = 7400;
const EMBEDDED_IDP_PORT = 7401;
export const EMBEDDED_AUDIENCE = 'custody-service';

const USAGE = `usage:
  custody-server serve [--config FILE] [--port N]
  custody-server migrate --config FILE
  custody-server audit verify [--config FILE]
  custody-server trust-root --out FILE [--config FILE]`;

/** The embedded defaults, with the dev IdP started (it must run before the service can name it). */
export async function embeddedConfig(dataDir: string, ports = { service: EMBEDDED_SERVICE_PORT, idp: EMBEDDED_IDP_PORT }): Promise<{ config: ServiceConfig; idp: RunningDevIdp }> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const idp = await startDevIdp({ port: ports.idp, audience: EMBEDDED_AUDIENCE, keysFile: join(dataDir, 'dev-idp-keys.json') });
  const config = parseConfig({
    dataDir,
    listen: { host: '127.0.0.1', port: ports.service },
    auth: { issuer: idp.issuer, audience: EMBEDDED_AUDIENCE, roleGroups: DEV_ROLE_GROUPS },
    devIdp: { enabled: true, port: ports.idp },
  });
  return { config, idp };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string' }, port: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return values.help === true ? 0 : 2;
  }
  const dataDir = resolve(process.env['CUSTODY_SERVER_DATA'] ?? '.custody-server');
  const [command, sub] = positionals;

  if (command === 'serve') {
    let config: ServiceConfig;
    let idp: RunningDevIdp | undefined;
    if (values.config !== undefined) {
      config = await loadConfig(values.config);
      if (config.devIdp.enabled) {
        idp = await startDevIdp({ port: config.devIdp.port, audience: config.auth.audience, keysFile: join(config.dataDir, 'dev-idp-keys.json') });
      }
    } else {
      const port = values.port === undefined ? EMBEDDED_SERVICE_PORT : Number(values.port);
      ({ config, idp } = await embeddedConfig(dataDir, { service: port, idp: EMBEDDED_IDP_PORT }));
    }
    const service = await startService(config);
    process.stdout.write(`custody-server: listening on ${service.url} (database: ${config.database.kind}, data: ${config.dataDir})\n`);
    if (idp !== undefined) {
      process.stdout.write(`custody-server: dev IdP at ${idp.issuer}; users: ${DEV_USERS.map((u) => `${u.id} (${u.groups.join(', ') || 'no groups'})`).join('; ')}\n`);
    }
    const stop = async (): Promise<void> => {
      await service.close();
      await idp?.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
    return new Promise<number>(() => undefined); // runs until a signal
  }

  const offlineConfig = (): Promise<ServiceConfig> =>
    values.config !== undefined ? loadConfig(values.config) : Promise.resolve(parseConfig({ dataDir, auth: { issuer: 'http://127.0.0.1:7401', audience: EMBEDDED_AUDIENCE, roleGroups: DEV_ROLE_GROUPS } }));

  if (command === 'trust-root') {
    if (values.out === undefined) {
      process.stderr.write(`custody-server: trust-root needs --out FILE\n${USAGE}\n`);
      return 2;
    }
    const config = await offlineConfig();
    // The same document GET /v1/trust-root serves: made from the key files alone, no database.
    const root = trustRootOf(await loadServiceKeys(config.dataDir), config.enrollment.trustRootName);
    await writeFile(values.out, JSON.stringify(root, null, 2) + '\n');
    process.stdout.write(`custody-server: wrote the trust root "${root.name ?? ''}" (org root ${root.keys[0]?.keyId.slice(0, 16) ?? ''}…) to ${values.out}\n`);
    return 0;
  }

  if (command === 'migrate' || (command === 'audit' && sub === 'verify')) {
    const config = await offlineConfig();
    const db = await openDatabase(config); // migrates
    try {
      if (command === 'migrate') {
        process.stdout.write('custody-server: the database is up to date\n');
        return 0;
      }
      const report = await verifyChain(db);
      if (report.ok) {
        process.stdout.write(`audit log intact: ${report.entries} entries, head ${report.head}\n`);
        return 0;
      }
      process.stdout.write(`audit log BROKEN at entry ${report.brokenAt}: ${report.reason} (${report.entries} entries verified before it)\n`);
      return 1;
    } finally {
      await db.close();
    }
  }

  process.stderr.write(`custody-server: unknown command ${positionals.join(' ')}\n${USAGE}\n`);
  return 2;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`custody-server: ${error instanceof ConfigError ? error.message : ((error as Error).stack ?? String(error))}\n`);
      process.exitCode = 2;
    },
  );
}
