/**
 * Live updates of JIT requests, and how they cross service instances.
 *
 * An event is numbered inside the transaction of the change it reports (`jit_event_counter`,
 * whose row lock is held until commit, so numbers follow commit order and have no gaps), and is
 * handed to an `EventFanout`, which delivers it to every instance once the change commits:
 *
 * - `InProcessFanout` (SQLite: one process) emits after commit;
 * - `PostgresFanout` sends `pg_notify` inside the transaction (PostgreSQL delivers it on commit,
 *   in commit order, and never for a rolled-back change) and LISTENs on a connection of its own.
 *
 * Every instance keeps the most recent events in a bounded `EventBuffer` for Last-Event-ID resume.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { JitEventBody } from '../../shared/api/jit.ts';
import type { Queryable } from '../db/database.ts';

/** An event with what decides who may see it. */
export interface JitEvent extends JitEventBody {
  /** The approver groups of the request (approvers see its events). */
  readonly approverGroups: readonly string[];
}

export interface EventFanout {
  /** Inside the change's transaction. */
  stage(tx: Queryable, event: JitEvent): Promise<void>;
  /** After that transaction committed, with what it staged, in order. */
  committed(events: readonly JitEvent[]): void;
  /** Every event of every instance, in order; `gap` when some may have been missed. */
  subscribe(listener: (event: JitEvent) => void, gap?: () => void): () => void;
  close(): Promise<void>;
}

/** Takes the next event number; call it inside the change's transaction. */
export async function nextEventSeq(tx: Queryable): Promise<number> {
  const row = await tx.get<{ seq: number }>('UPDATE jit_event_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq');
  if (row === undefined) throw new Error('jit_event_counter has no row: the JIT migration did not run');
  return Number(row.seq);
}

export async function lastEventSeq(db: Queryable): Promise<number> {
  return Number((await db.get<{ seq: number }>('SELECT seq FROM jit_event_counter WHERE id = 1'))?.seq ?? 0);
}

/**
 * One process (SQLite). Transactions commit one after another, but the code after each commit
 * may run in another order, so events are held until the one before has been emitted: numbers
 * have no gaps, so a missing one is always on its way.
 */
export class InProcessFanout implements EventFanout {
  readonly #emitter = new EventEmitter().setMaxListeners(0);
  readonly #held = new Map<number, JitEvent>();
  #next: number;

  private constructor(next: number) {
    this.#next = next;
  }

  static async start(db: Queryable): Promise<InProcessFanout> {
    return new InProcessFanout((await lastEventSeq(db)) + 1);
  }

  async stage(): Promise<void> {}

  committed(events: readonly JitEvent[]): void {
    for (const event of events) this.#held.set(event.seq, event);
    for (let event = this.#held.get(this.#next); event !== undefined; event = this.#held.get(this.#next)) {
      this.#held.delete(this.#next++);
      this.#emitter.emit('event', event);
    }
    if (this.#held.size > HELD_AT_MOST) {
      // Not expected (every committed change reports its events), but never stall for good.
      this.#next = Math.min(...this.#held.keys());
      this.committed([]);
    }
  }

  subscribe(listener: (event: JitEvent) => void): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }

  async close(): Promise<void> {
    this.#emitter.removeAllListeners();
  }
}

const HELD_AT_MOST = 1000;
const CHANNEL = 'custody_jit_events';
const RECONNECT_MS = 1000;
/** How the listening connection names itself in pg_stat_activity. */
export const LISTENER_NAME = 'custody-jit-events';

export class PostgresFanout implements EventFanout {
  readonly #url: string;
  readonly #emitter = new EventEmitter().setMaxListeners(0);
  #client: pg.Client | undefined;
  #closed = false;
  #reconnect: NodeJS.Timeout | undefined;

  private constructor(url: string) {
    this.#url = url;
  }

  /** Resolves once it listens, so no event committed after start is missed. */
  static async start(url: string): Promise<PostgresFanout> {
    const fanout = new PostgresFanout(url);
    try {
      await fanout.#listen();
    } catch (error) {
      await fanout.close();
      throw error;
    }
    return fanout;
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, application_name: LISTENER_NAME });
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || message.payload === undefined) return;
      this.#emitter.emit('event', JSON.parse(message.payload) as JitEvent);
    });
    const lost = (): void => {
      if (this.#closed || this.#client !== client) return;
      this.#client = undefined;
      client.end().catch(() => undefined);
      // Whatever was sent while it was gone is lost to this instance: streams must resync.
      this.#emitter.emit('gap');
      this.#reconnect = setTimeout(() => void this.#listen().catch(() => undefined), RECONNECT_MS);
      this.#reconnect.unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    this.#client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      lost();
      throw error;
    }
  }

  async stage(tx: Queryable, event: JitEvent): Promise<void> {
    await tx.get('SELECT pg_notify(?, ?)', [CHANNEL, JSON.stringify(event)]);
  }

  committed(): void {
    // PostgreSQL delivers what stage() sent, to every listener, this one too.
  }

  subscribe(listener: (event: JitEvent) => void, gap?: () => void): () => void {
    this.#emitter.on('event', listener);
    if (gap !== undefined) this.#emitter.on('gap', gap);
    return () => {
      this.#emitter.off('event', listener);
      if (gap !== undefined) this.#emitter.off('gap', gap);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    this.#emitter.removeAllListeners();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/** The last `capacity` events, in order, for resume. */
export class EventBuffer {
  readonly #capacity: number;
  readonly #events: JitEvent[] = [];
  /** Below this, events may have been dropped or never seen here. */
  #complete = Number.POSITIVE_INFINITY;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** From the first event this instance saw, it has every later one (until a gap). */
  add(event: JitEvent): void {
    const last = this.#events.at(-1);
    if (last !== undefined && event.seq <= last.seq) return; // seen already
    if (last === undefined || event.seq !== last.seq + 1) this.#complete = event.seq;
    this.#events.push(event);
    if (this.#events.length > this.#capacity) {
      this.#events.shift();
      this.#complete = Math.max(this.#complete, this.#events[0]!.seq);
    }
  }

  /** The connection to the other instances broke: nothing before the next event is known. */
  gap(): void {
    this.#events.length = 0;
    this.#complete = Number.POSITIVE_INFINITY;
  }

  /**
   * The events after `seq`, or undefined when some of them are no longer (or never were) here,
   * `newest` being the service-wide last number.
   */
  after(seq: number, newest: number): JitEvent[] | undefined {
    if (seq >= newest) return [];
    if (seq + 1 < this.#complete) return undefined;
    return this.#events.filter((e) => e.seq > seq);
  }
}
