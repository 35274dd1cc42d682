/**
 * A tus Locker every instance honours: PostgreSQL advisory locks, so that of several service
 * instances sharing one database and one bucket, one request at a time works on an upload.
 *
 * - One dedicated connection per process (not the pool's): an advisory lock belongs to the
 *   session that took it, and a pooled connection goes back to the pool between queries.
 * - The advisory key is the first 64 bits of SHA-256 over the upload id (pg_try_advisory_lock
 *   takes a bigint). Session locks are re-entrant within one session, so requests of the same
 *   process are kept apart in memory first, as tus's MemoryLocker does.
 * - tus's `requestRelease`: a newer request for a locked upload asks the holder to let go (the
 *   holder is most likely a half-open connection). In this process that is the holder's
 *   callback; across instances the waiter sends NOTIFY on `custody_tus_release` with the upload
 *   id, and the instance holding it (it LISTENs on its lock connection) calls its holder's
 *   callback. The holder stops, keeps what it received, unlocks; the waiter then finds the
 *   offset moved and tus answers its PATCH with 409.
 * - Not acquired within `acquireTimeoutMs`: 423 Locked. If the lock connection drops, PostgreSQL
 *   releases every lock it held; the next lock opens a new connection (logged).
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lock, Locker, RequestRelease } from '@tus/server';
import pg from 'pg';

const RELEASE_CHANNEL = 'custody_tus_release';
/** How often a waiter tries again; and every this many tries it asks the holder again. */
const RETRY_MS = 50;
const ASK_AGAIN_EVERY = 20;

/** Answered by tus as is (its `status_code` and `body`), in the service's Problem shape. */
export class UploadLockedError extends Error {
  readonly status_code = 423;
  readonly body: string;

  constructor(id: string, why: string) {
    super(`upload ${id} is locked: ${why}`);
    this.name = 'UploadLockedError';
    this.body = JSON.stringify({ error: 'locked', message: `upload ${id} is being written by another request (${why}); ask HEAD for the offset and try again` });
  }
}

export interface PostgresUploadLockerOptions {
  readonly url: string;
  /** How long a request waits for the lock (tus's default: 30 s). */
  readonly acquireTimeoutMs?: number;
  readonly log?: { warn(details: object, message: string): void };
}

export class PostgresUploadLocker implements Locker {
  readonly #url: string;
  readonly acquireTimeoutMs: number;
  readonly #log: PostgresUploadLockerOptions['log'];
  #connection: Promise<pg.Client> | undefined;
  /** Uploads this process holds, with the holder's requestRelease. */
  readonly held = new Map<string, RequestRelease>();

  constructor(options: PostgresUploadLockerOptions) {
    this.#url = options.url;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 30_000;
    this.#log = options.log;
  }

  newLock(id: string): Lock {
    return new PostgresUploadLock(this, id);
  }

  /**
   * Takes the lock on `key` if nobody holds it, without asking anyone to let go (start-up
   * recovery, ingest of a completed upload): the release, or undefined when it is held.
   */
  async tryHold(key: string): Promise<(() => Promise<void>) | undefined> {
    if (this.held.has(key)) return undefined;
    const release = (): void => undefined;
    this.held.set(key, release);
    let got = false;
    try {
      got = await this.tryAdvisory(key);
    } finally {
      if (!got) this.held.delete(key);
    }
    return got ? () => this.release(key, release) : undefined;
  }

  async tryAdvisory(key: string): Promise<boolean> {
    const connection = await this.#connected();
    const { rows } = await connection.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS got', [advisoryKey(key)]);
    return rows[0]?.got === true;
  }

  async askRelease(key: string): Promise<void> {
    const connection = await this.#connected();
    await connection.query('SELECT pg_notify($1, $2)', [RELEASE_CHANNEL, key]);
  }

  async release(key: string, holder: RequestRelease): Promise<void> {
    if (this.held.get(key) !== holder) throw new Error(`releasing upload lock ${key}, which this request does not hold`);
    try {
      // Unlock before forgetting the holder: until then, a request of this process waits in memory.
      const connection = await this.#connected();
      await connection.query('SELECT pg_advisory_unlock($1::bigint)', [advisoryKey(key)]);
    } finally {
      this.held.delete(key);
    }
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection !== undefined) await (await connection.catch(() => undefined))?.end();
  }

  #connected(): Promise<pg.Client> {
    this.#connection ??= this.#connect();
    return this.#connection;
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.#url });
    const drop = (): void => {
      if (this.#connection !== undefined) this.#connection = undefined;
    };
    client.on('error', (error) => {
      this.#log?.warn({ err: error, held: this.held.size }, 'ingest: the upload lock connection failed; PostgreSQL released the locks it held');
      drop();
    });
    client.on('notification', (message) => {
      if (message.channel !== RELEASE_CHANNEL || message.payload === undefined) return;
      const holder = this.held.get(message.payload);
      if (holder !== undefined) void Promise.resolve(holder()).catch(() => undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${RELEASE_CHANNEL}`);
    } catch (error) {
      drop();
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }
}

class PostgresUploadLock implements Lock {
  readonly #locker: PostgresUploadLocker;
  readonly #id: string;
  #holder: RequestRelease | undefined;

  constructor(locker: PostgresUploadLocker, id: string) {
    this.#locker = locker;
    this.#id = id;
  }

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const locker = this.#locker;
    const timeout = AbortSignal.timeout(locker.acquireTimeoutMs);
    const stop = AbortSignal.any([signal, timeout]);
    let asked: RequestRelease | undefined;
    for (let attempt = 0; ; attempt++) {
      if (stop.aborted) throw new UploadLockedError(this.#id, timeout.aborted ? `not released within ${locker.acquireTimeoutMs} ms` : 'the request ended while waiting');
      const local = locker.held.get(this.#id);
      if (local === undefined) {
        // Claim it in this process first, then in the database.
        const holder: RequestRelease = () => requestRelease();
        locker.held.set(this.#id, holder);
        let got = false;
        try {
          got = await locker.tryAdvisory(this.#id);
        } finally {
          if (!got) locker.held.delete(this.#id);
        }
        if (got) {
          this.#holder = holder;
          return;
        }
        if (attempt % ASK_AGAIN_EVERY === 0) await locker.askRelease(this.#id);
      } else if (asked !== local) {
        asked = local;
        await local();
      }
      await sleep(RETRY_MS, undefined, { signal: stop }).catch(() => undefined);
    }
  }

  async unlock(): Promise<void> {
    const holder = this.#holder;
    if (holder === undefined) throw new Error(`releasing upload lock ${this.#id}, which was not taken`);
    this.#holder = undefined;
    await this.#locker.release(this.#id, holder);
  }
}

function advisoryKey(key: string): string {
  return createHash('sha256').update(`custody.tus-upload:${key}`).digest().readBigInt64BE(0).toString();
}
