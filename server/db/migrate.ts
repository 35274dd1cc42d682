/**
 * Versioned migrations: each module of the service owns its tables and lists its migrations in
 * its module, and `migrations.ts` gathers and orders them. A migration is applied
 * once, in its own transaction, and recorded in `schema_migrations`. When several instances
 * start at once, the one that loses the race sees its transaction fail and the version recorded
 * by the winner, and goes on.
 *
 * A migration once released is never edited: a change is a new migration.
 */
import type { Database, Dialect } from './database.ts';

export interface Migration {
  /** Unique and increasing over the whole service. */
  readonly version: number;
  readonly name: string;
  /** The script, per dialect where they differ. */
  readonly up: string | Readonly<Record<Dialect, string>>;
}

export async function migrate(db: Database, migrations: readonly Migration[]): Promise<{ applied: number[] }> {
  const versions = migrations.map((m) => m.version);
  for (let i = 1; i < versions.length; i++) {
    if (versions[i]! <= versions[i - 1]!) throw new Error(`migration ${versions[i]} is out of order (after ${versions[i - 1]})`);
  }
  await db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)').catch(async (error: unknown) => {
    // Two instances creating it at once: PostgreSQL reports the loser's duplicate type.
    if ((await db.get("SELECT 1 AS one FROM schema_migrations WHERE 1 = 0").then(() => true, () => false)) === false) throw error;
  });
  const applied: number[] = [];
  for (const migration of migrations) {
    const isApplied = async (): Promise<boolean> =>
      (await db.get('SELECT version FROM schema_migrations WHERE version = ?', [migration.version])) !== undefined;
    if (await isApplied()) continue;
    try {
      await db.transaction(async (tx) => {
        await tx.exec(typeof migration.up === 'string' ? migration.up : migration.up[tx.dialect]);
        await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [migration.version, migration.name, Date.now()]);
      });
      applied.push(migration.version);
    } catch (error) {
      // Another instance applied it meanwhile (its table exists, or its row does): fine.
      if (!(await isApplied())) throw new Error(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`);
    }
  }
  const newest = versions.at(-1) ?? 0;
  const ahead = await db.get<{ version: number }>('SELECT MAX(version) AS version FROM schema_migrations');
  if (ahead !== undefined && ahead.version !== null && ahead.version > newest) {
    throw new Error(`the database has schema version ${ahead.version}, newer than this service knows (${newest}): run the newer service`);
  }
  return { applied };
}
