/**
 * Server-Sent Events for JIT (GET /v1/jit/events): each open stream gets the events its caller
 * may see (their own requests; requests they may review; everything for service admins and
 * auditors), numbered with the event's `seq` as the SSE id. A client that reconnects with
 * Last-Event-ID gets what it missed from the instance's buffer, or a `resync` event when the
 * buffer no longer holds it (then it reads its lists again). Comment lines every heartbeat keep
 * idle proxies from closing the stream; a stream ends with an `expired` event when the access
 * token it was opened with expires.
 *
 * Browsers' EventSource cannot send an Authorization header, so a stream may instead be opened
 * with a one-time ticket (`issueTicket`): 32 random bytes, stored hashed with the caller's
 * identity, valid 60 s, deleted on first use. The access token never travels in a URL.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { SSE_EXPIRED, SSE_RESYNC, type JitEventBody } from '../../shared/api/jit.ts';
import type { Principal } from '../auth/access-token.ts';
import type { Role } from '../auth/roles.ts';
import type { Database } from '../db/database.ts';
import { HttpError } from '../http/errors.ts';
import { EventBuffer, lastEventSeq, type EventFanout, type JitEvent } from './events.ts';
import { intersects } from './policies.ts';

export const TICKET_TTL_MS = 60_000;

const hashTicket = (ticket: string): string => createHash('sha256').update(ticket).digest('hex');

/** A ticket's holder, as the access token said when the ticket was issued. */
interface StoredPrincipal {
  subject: string;
  name: string | null;
  email: string | null;
  groups: string[];
  roles: Role[];
  expiresAt: number;
}

export async function issueTicket(db: Database, who: Principal, now: number): Promise<{ ticket: string; expiresAt: number }> {
  const ticket = randomBytes(32).toString('base64url');
  const expiresAt = Math.min(now + TICKET_TTL_MS, who.expiresAt);
  const stored: StoredPrincipal = { subject: who.subject, name: who.name ?? null, email: who.email ?? null, groups: [...who.groups], roles: [...who.roles], expiresAt: who.expiresAt };
  await db.run('INSERT INTO jit_event_tickets (ticket_hash, principal, expires_at) VALUES (?, ?, ?)', [hashTicket(ticket), JSON.stringify(stored), expiresAt]);
  return { ticket, expiresAt };
}

/** The identity a ticket was issued to; the ticket is gone afterwards, used or not. */
export async function redeemTicket(db: Database, ticket: string, now: number): Promise<Principal> {
  const row = await db.get<{ principal: string; expires_at: number }>('DELETE FROM jit_event_tickets WHERE ticket_hash = ? RETURNING principal, expires_at', [hashTicket(ticket)]);
  if (row === undefined) throw new HttpError('unauthenticated', 'the event-stream ticket is unknown or was used already: get a new one from POST /v1/jit/events/ticket');
  if (now >= Number(row.expires_at)) throw new HttpError('unauthenticated', 'the event-stream ticket has expired (they last 60 s): get a new one');
  const stored = JSON.parse(row.principal) as StoredPrincipal;
  return { subject: stored.subject, name: stored.name ?? undefined, email: stored.email ?? undefined, groups: stored.groups, roles: new Set(stored.roles), expiresAt: stored.expiresAt };
}

function mayWatch(who: Principal, event: JitEvent): boolean {
  return event.requester === who.subject || who.roles.has('service-admin') || who.roles.has('auditor') || intersects(event.approverGroups, who.groups);
}

interface Stream {
  readonly who: Principal;
  readonly res: ServerResponse;
  /** Live events that came while the replay was read; sent after it. */
  pending: JitEvent[] | undefined;
  lastSent: number;
  readonly timers: NodeJS.Timeout[];
}

export interface LiveStreamsOptions {
  readonly db: Database;
  readonly fanout: EventFanout;
  readonly now: () => number;
  readonly bufferSize: number;
  readonly heartbeatMs: number;
}

export class LiveStreams {
  readonly #options: LiveStreamsOptions;
  readonly #buffer: EventBuffer;
  readonly #streams = new Set<Stream>();
  readonly #unsubscribe: () => void;

  constructor(options: LiveStreamsOptions) {
    this.#options = options;
    this.#buffer = new EventBuffer(options.bufferSize);
    this.#unsubscribe = options.fanout.subscribe(
      (event) => {
        this.#buffer.add(event);
        for (const stream of this.#streams) this.#deliver(stream, event);
      },
      () => {
        this.#buffer.gap();
        for (const stream of this.#streams) write(stream.res, `event: ${SSE_RESYNC}\ndata: {}\n\n`);
      },
    );
  }

  /** Takes over `res` until the client leaves, the token expires, or the service closes. */
  async open(who: Principal, res: ServerResponse, lastEventId: number | undefined): Promise<void> {
    const stream: Stream = { who, res, pending: [], lastSent: lastEventId ?? 0, timers: [] };
    this.#streams.add(stream);
    res.on('close', () => this.#drop(stream));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    write(res, 'retry: 2000\n\n');
    if (lastEventId !== undefined) {
      // Without the newest number nothing says the buffer is enough: the client reads afresh.
      const newest = await lastEventSeq(this.#options.db).catch(() => Number.POSITIVE_INFINITY);
      const replay = this.#buffer.after(lastEventId, newest);
      if (replay === undefined) write(res, `event: ${SSE_RESYNC}\ndata: {}\n\n`);
      else for (const event of replay) this.#send(stream, event);
    }
    const live = stream.pending ?? [];
    stream.pending = undefined;
    for (const event of live) this.#deliver(stream, event);
    // From here on the client misses nothing: tests (and clients) may act once they read it.
    write(res, ': connected\n\n');
    stream.timers.push(setInterval(() => write(res, ': heartbeat\n\n'), this.#options.heartbeatMs));
    const untilExpiry = who.expiresAt - this.#options.now();
    stream.timers.push(
      setTimeout(
        () => {
          write(res, `event: ${SSE_EXPIRED}\ndata: {}\n\n`);
          res.end();
        },
        Math.max(0, Math.min(untilExpiry, 2 ** 31 - 1)),
      ),
    );
  }

  #deliver(stream: Stream, event: JitEvent): void {
    if (stream.pending !== undefined) stream.pending.push(event);
    else this.#send(stream, event);
  }

  #send(stream: Stream, event: JitEvent): void {
    if (event.seq <= stream.lastSent || !mayWatch(stream.who, event)) return;
    stream.lastSent = event.seq;
    const { approverGroups: _, ...body } = event;
    write(stream.res, `id: ${event.seq}\ndata: ${JSON.stringify(body satisfies JitEventBody)}\n\n`);
  }

  #drop(stream: Stream): void {
    for (const timer of stream.timers) clearTimeout(timer);
    this.#streams.delete(stream);
  }

  get size(): number {
    return this.#streams.size;
  }

  close(): void {
    this.#unsubscribe();
    for (const stream of this.#streams) {
      this.#drop(stream);
      stream.res.end();
    }
  }
}

function write(res: ServerResponse, text: string): void {
  if (!res.writableEnded && !res.destroyed) res.write(text);
}
