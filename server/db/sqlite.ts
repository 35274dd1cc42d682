/**
 * The embedded database: `node:sqlite` on one file (or `:memory:`), WAL mode. `node:sqlite` is
 * synchronous and has one connection, so a transaction that awaits (our transactions do: they
 * call other modules) would let another request's statements into it. Every statement and
 * every transaction therefore takes turns through one queue.
 */
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { ConflictError, type Database, type Queryable, type SqlValue } from './database.ts';

/** SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE (extended result codes). */
const UNIQUE_VIOLATIONS = new Set([1555, 2067]);
/** How long a statement waits for another process's write lock (a CLI beside the service). */
const BUSY_TIMEOUT_MS = 5_000;

export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  readonly #db: DatabaseSync;
  /** The tail of the queue: each caller waits for the one before it. */
  #turn: Promise<unknown> = Promise.resolve();
  readonly #direct: Queryable;

  constructor(path: string) {
    this.#db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;');
    const db = this.#db;
    this.#direct = {
      dialect: 'sqlite',
      all: async <T>(sql: string, params: readonly SqlValue[] = []) => statement(() => db.prepare(sql).all(...bind(params)) as T[]),
      get: async <T>(sql: string, params: readonly SqlValue[] = []) => statement(() => db.prepare(sql).get(...bind(params)) as T | undefined),
      run: async (sql: string, params: readonly SqlValue[] = []) =>
        statement(() => ({ changes: Number(db.prepare(sql).run(...bind(params)).changes) })),
      exec: async (script: string) => statement(() => db.exec(script)),
      lock: async () => undefined,
    };
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.#inTurn(() => this.#direct.all<T>(sql, params));
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.#inTurn(() => this.#direct.get<T>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.#inTurn(() => this.#direct.run(sql, params));
  }

  transaction<T>(body: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#inTurn(async () => {
      // IMMEDIATE: take the write lock now, so a second process fails fast and visibly.
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = await body(this.#direct);
        this.#db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  exec(script: string): Promise<void> {
    return this.#inTurn(() => this.#direct.exec(script));
  }

  async lock(): Promise<void> {
    // Outside a transaction a lock would end at once: nothing to hold.
  }

  async close(): Promise<void> {
    await this.#inTurn(async () => this.#db.close());
  }

  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#turn.then(work);
    // The next caller waits for this one to settle, never for its outcome.
    this.#turn = result.catch(() => undefined);
    return result;
  }
}

function bind(params: readonly SqlValue[]): SQLInputValue[] {
  return params as SQLInputValue[];
}

function statement<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    const code = (error as { errcode?: unknown }).errcode;
    if (typeof code === 'number' && UNIQUE_VIOLATIONS.has(code)) throw new ConflictError((error as Error).message);
    throw error;
  }
}
