/**
 * One storage suite, run against both databases: `describeDatabases('jit store', (open) => …)`
 * declares the suite twice, once on SQLite (a temp file) and once on a real PostgreSQL server of
 * the test file's own (test/support/postgres.ts). `open()` gives a fresh, migrated database
 * each time, closed after the suite.
 *
 * The PostgreSQL half is skipped, saying why, only where PostgreSQL cannot run at all (not
 * installed); CI installs it, so there both halves run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import { postgresUnavailable, startPostgres, type RunningPostgres } from '../../test/support/postgres.ts';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import { MIGRATIONS } from './migrations.ts';
import { PostgresDatabase } from './postgres.ts';
import { SqliteDatabase } from './sqlite.ts';

export type OpenDatabase = (options?: { migrated?: boolean }) => Promise<Database>;

let postgres: Promise<RunningPostgres> | undefined;

export function describeDatabases(title: string, suite: (open: OpenDatabase) => void): void {
  describe(`${title} (SQLite)`, () => {
    const opened: Database[] = [];
    const dirs: string[] = [];
    after(async () => {
      for (const db of opened) await db.close();
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    });
    suite(async ({ migrated = true } = {}) => {
      const dir = await mkdtemp(join(tmpdir(), 'custody-sqlite-'));
      dirs.push(dir);
      const db = new SqliteDatabase(join(dir, 'service.db'));
      opened.push(db);
      if (migrated) await migrate(db, MIGRATIONS);
      return db;
    });
  });

  const skip = postgresUnavailable();
  describe(`${title} (PostgreSQL)`, { skip }, () => {
    const opened: Database[] = [];
    after(async () => {
      for (const db of opened) await db.close();
      if (postgres !== undefined) {
        const server = await postgres;
        postgres = undefined;
        await server.stop();
      }
    });
    suite(async ({ migrated = true } = {}) => {
      postgres ??= startPostgres();
      const url = await (await postgres).freshDatabase();
      const db = new PostgresDatabase({ connectionString: url });
      opened.push(db);
      if (migrated) await migrate(db, MIGRATIONS);
      return db;
    });
  });
}
