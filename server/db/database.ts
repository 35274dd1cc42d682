/**
 * The service's database, behind one small interface with two implementations: `node:sqlite`
 * (the embedded default: one process, one file) and PostgreSQL through `pg` (several stateless
 * instances). Every module writes its SQL once, in the subset both understand:
 *
 * - `?` placeholders (the PostgreSQL implementation numbers them `$1`, `$2`, …);
 * - INTEGER/BIGINT for numbers and times (milliseconds since the epoch), TEXT for strings and
 *   JSON, 0/1 for booleans; `ON CONFLICT … DO …` and `RETURNING`, which both have;
 * - where the two differ (full-text search, row locks), a module asks `dialect` and writes both.
 *
 * State changes happen inside `transaction()`: the audit log's entry commits with the change it
 * records, or neither does.
 */

export type SqlValue = string | number | null | Uint8Array;

export type Dialect = 'sqlite' | 'postgres';

export interface Queryable {
  readonly dialect: Dialect;
  /** Every row. Column names are the statement's (lower-case under PostgreSQL). */
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** A statement without rows; how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
  /** A script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Inside a transaction: waits until no other transaction holds `key`, and holds it until
   * this one ends. For read-modify-write of one thing (a request's state, the audit log's
   * head): take its lock, then read. PostgreSQL: an advisory transaction lock; SQLite: nothing
   * to do, transactions already take turns.
   */
  lock(key: string): Promise<void>;
}

export interface Database extends Queryable {
  /**
   * Runs `body` in one transaction, commits when it resolves, rolls back when it throws, and
   * rethrows. Under SQLite every other statement of the process waits for it; under PostgreSQL
   * it is READ COMMITTED, and `lock()` orders read-modify-write. A deadlock is retried, so
   * `body` must have no effect outside the database.
   */
  transaction<T>(body: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Thrown for a unique or primary-key violation, so callers can say "already exists". */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/**
 * `?` → `$1`, `$2`, … outside string literals, quoted identifiers and comments. Our statements
 * are written by us, never assembled from input, so this is only about our own literals.
 */
export function numberPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const close = sql.indexOf(c, i + 1);
      const end = close < 0 ? sql.length : close + 1;
      out += sql.slice(i, end);
      i = end - 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const lf = sql.indexOf('\n', i);
      const end = lf < 0 ? sql.length : lf;
      out += sql.slice(i, end);
      i = end - 1;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  return out;
}
