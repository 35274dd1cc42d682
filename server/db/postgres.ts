/**
 * The database at scale: PostgreSQL through a `pg` pool. Statements are written with `?`
 * (database.ts) and numbered here. BIGINT columns come back as numbers (our integers are
 * times in milliseconds and counts, far below 2^53), not as the strings `pg` gives by default.
 */
import pg from 'pg';
import { ConflictError, numberPlaceholders, type Database, type Queryable, type SqlValue } from './database.ts';

const INT8_OID = 20;
const UNIQUE_VIOLATION = '23505';
const DEADLOCK = '40P01';
const TRANSACTION_ATTEMPTS = 5;

/** Our own type parsers: the process-wide `pg.types` is left alone. */
const types = {
  getTypeParser: (oid: number, format?: string) => {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
  },
};

export interface PostgresOptions {
  readonly connectionString: string;
  readonly maxConnections?: number;
}

export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;

  constructor(options: PostgresOptions) {
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10, types });
    // An idle client that loses its connection must not crash the service.
    this.#pool.on('error', () => undefined);
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return on(this.#pool).all<T>(sql, params);
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return on(this.#pool).get<T>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return on(this.#pool).run(sql, params);
  }

  async transaction<T>(body: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#pool.connect();
      try {
        await client.query('BEGIN');
        const result = await body(on(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (error as { code?: unknown }).code;
        if (code !== DEADLOCK || attempt >= TRANSACTION_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      } finally {
        client.release();
      }
    }
  }

  exec(script: string): Promise<void> {
    return on(this.#pool).exec(script);
  }

  async lock(): Promise<void> {
    // Outside a transaction a lock would end at once: nothing to hold.
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

function on(target: pg.Pool | pg.PoolClient): Queryable {
  const query = async (sql: string, params: readonly SqlValue[] = []): Promise<pg.QueryResult> => {
    try {
      return await target.query(numberPlaceholders(sql), params.map((p) => (p instanceof Uint8Array ? Buffer.from(p.buffer, p.byteOffset, p.byteLength) : p)));
    } catch (error) {
      if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) throw new ConflictError((error as Error).message);
      throw error;
    }
  };
  return {
    dialect: 'postgres',
    all: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as T[],
    get: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly SqlValue[]) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
    exec: async (script: string) => {
      await target.query(script);
    },
    lock: async (key: string) => {
      // hashtext: a stable 32-bit hash of the key, PostgreSQL's own.
      await query('SELECT pg_advisory_xact_lock(hashtext(?))', [key]);
    },
  };
}
