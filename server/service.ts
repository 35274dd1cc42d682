/**
 * The central service, assembled: open the database the configuration names and migrate it,
 * build the HTTP application with every module, listen. `startService` is what `custody-server
 * serve`, `npm start` and the tests run.
 */
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { auditModule } from './audit/routes.ts';
import { AccessTokenVerifier } from './auth/access-token.ts';
import { openBlobStore } from './blobs/open-blob-store.ts';
import { sqlitePath, type ServiceConfig } from './config.ts';
import type { Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { MIGRATIONS } from './db/migrations.ts';
import { PostgresDatabase } from './db/postgres.ts';
import { SqliteDatabase } from './db/sqlite.ts';
import { buildService } from './http/app.ts';
import { loadServiceKeys } from './keys/service-keys.ts';
import type { ServiceApp, ServiceContext, ServiceModule } from './http/context.ts';
import { coreModule } from './http/core-routes.ts';
import { archiveModule } from './archive/index.ts';
import { ingestModule } from './ingest/index.ts';
import { deviceStanding, enrollmentModule } from './enrollment/index.ts';
import { jitModule } from './jit/index.ts';
import { jitGrants } from './ca/jit-grants.ts';
import { sshCaModule } from './ca/routes.ts';

/** Every part of the API, in registration order. */
export function serviceModules(): ServiceModule[] {
  return [coreModule, auditModule, enrollmentModule, jitModule(), sshCaModule({ grants: jitGrants }), ingestModule({ deviceStanding }), archiveModule()];
}

export interface RunningService {
  readonly url: string;
  readonly app: ServiceApp;
  readonly context: ServiceContext;
  readonly db: Database;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly now?: () => number;
  readonly logStream?: DestinationStream | false;
  /** Extra modules (tests of the HTTP layer itself); one named like a built-in module replaces it (a test giving it its own dependencies). */
  readonly extraModules?: readonly ServiceModule[];
}

export async function openDatabase(config: ServiceConfig): Promise<Database> {
  const db =
    config.database.kind === 'sqlite'
      ? new SqliteDatabase(sqlitePath(config))
      : new PostgresDatabase({ connectionString: config.database.url, maxConnections: config.database.maxConnections });
  try {
    await migrate(db, MIGRATIONS);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

export async function startService(config: ServiceConfig, options: StartOptions = {}): Promise<RunningService> {
  const keys = await loadServiceKeys(config.dataDir);
  const db = await openDatabase(config);
  const tokens = new AccessTokenVerifier({ ...config.auth, ...(options.now === undefined ? {} : { now: options.now }) });
  try {
    const { app, context } = await buildService({
      config,
      db,
      blobs: openBlobStore(config),
      keys,
      tokens,
      modules: [...serviceModules().filter((m) => !options.extraModules?.some((extra) => extra.name === m.name)), ...(options.extraModules ?? [])],
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.logStream === undefined ? {} : { logStream: options.logStream }),
    });
    await app.listen({ host: config.listen.host, port: config.listen.port });
    const address = app.server.address() as AddressInfo;
    const url = config.publicUrl ?? `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
    return {
      url,
      app,
      context,
      db,
      close: async () => {
        await app.close();
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
