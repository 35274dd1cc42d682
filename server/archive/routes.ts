/**
 * The archive over HTTP. Reading: an admin sees only their own sessions, an auditor sees every
 * one. Exporting the stored bundle: auditors, each export audited. Legal hold: service admins.
 * No route changes or deletes a stored recording; only the retention sweeper deletes, and only
 * what has expired and is not held.
 */
import type { FastifyRequest } from 'fastify';
import { LegalHoldSchema, QuarantinePageSchema, SearchPageSchema, SearchQuerySchema, SessionDetailSchema, SessionParamsSchema, StoredSessionSchema } from '../../shared/api/archive.ts';
import { IngestResultSchema } from '../../shared/api/ingest.ts';
import { z } from 'zod';
import type { Principal } from '../auth/access-token.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Queryable } from '../db/database.ts';
import type { ServiceModule } from '../http/context.ts';
import { forbidden, HttpError, notFound } from '../http/errors.ts';
import { findStoredSession, listQuarantine, searchSessions, setLegalHold, summaryOf, type ArchivedSession } from './archive-store.ts';
import { sweepExpired } from './retention.ts';

export interface ArchiveModuleOptions {
  /** Where recordings are stored; by default the service's (context.blobs). */
  readonly blobs?: BlobStore;
}

const seesAll = (who: Principal): boolean => who.roles.has('auditor');

/** The session, if the caller may read it; another admin's session is answered as not found. */
async function readable(db: Queryable, who: Principal, sessionId: string): Promise<ArchivedSession> {
  const session = await findStoredSession(db, sessionId);
  if (session === undefined || (!seesAll(who) && session.owner !== who.subject)) throw notFound(`session ${sessionId}`);
  return session;
}

export function archiveModule(options: ArchiveModuleOptions = {}): ServiceModule {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'archive',
    register(app, context) {
      const { db, config, now, principalOf, audit } = context;
      const blobs = options.blobs ?? context.blobs;

      app.get(
        '/v1/sessions',
        {
          config: { access: ['admin', 'auditor'] },
          schema: { summary: 'Search stored sessions by owner, target, grant, start time and the text of their output', querystring: SearchQuerySchema, response: { 200: SearchPageSchema } },
        },
        async (request) => {
          const who = principalOf(request);
          const q = request.query;
          if (!seesAll(who) && q.owner !== undefined && q.owner !== who.subject) throw forbidden('an admin sees only their own sessions: leave out owner or name yourself');
          const sessions = await searchSessions(db, { ...q, owner: seesAll(who) ? q.owner : who.subject });
          return { sessions: sessions.map(summaryOf) };
        },
      );

      app.get(
        '/v1/sessions/:sessionId',
        { config: { access: ['admin', 'auditor'] }, schema: { summary: 'A stored session and its receipt', params: SessionParamsSchema, response: { 200: SessionDetailSchema } } },
        async (request) => {
          const session = await readable(db, principalOf(request), request.params.sessionId);
          return { ...summaryOf(session), receipt: session.receipt };
        },
      );

      app.get(
        '/v1/sessions/:sessionId/receipt',
        { config: { access: ['admin', 'auditor'] }, schema: { summary: 'The signed ingest receipt of a stored session (for a client that lost the upload\'s answer)', params: SessionParamsSchema, response: { 200: IngestResultSchema } } },
        async (request) => {
          const session = await readable(db, principalOf(request), request.params.sessionId);
          return { status: 'stored' as const, receipt: session.receipt, envelope: JSON.parse(session.envelope) as z.infer<typeof IngestResultSchema>['envelope'] };
        },
      );

      app.get(
        '/v1/sessions/:sessionId/bundle',
        { config: { access: ['auditor'] }, schema: { summary: 'Export the stored (countersigned) bundle; every export is audited', params: SessionParamsSchema } },
        async (request: FastifyRequest<{ Params: { sessionId: string } }>, reply) => {
          const session = await readable(db, principalOf(request), request.params.sessionId);
          if (session.expiredAt !== null) throw new HttpError('gone', `session ${session.sessionId}'s recording was deleted at the end of its retention`);
          const stream = await blobs.open(session.storageKey);
          if (stream === undefined) throw new HttpError('internal', `session ${session.sessionId}'s stored object is missing; the error is in the log`);
          await db.transaction((tx) => audit(tx, request, 'archive.export', session.sessionId, { sha256: session.sha256, storageKey: session.storageKey }));
          return reply
            .type('application/vnd.custody.bundle+zip')
            .header('content-disposition', `attachment; filename="${session.sessionId}.custody"`)
            .header('x-custody-sha256', session.sha256)
            .send(stream);
        },
      );

      app.put(
        '/v1/sessions/:sessionId/legal-hold',
        {
          config: { access: ['service-admin'] },
          schema: { summary: 'Set or clear legal hold: a held recording is never deleted, whatever its retention', params: SessionParamsSchema, body: LegalHoldSchema, response: { 200: StoredSessionSchema } },
        },
        async (request) => {
          const { sessionId } = request.params;
          const { on, reason } = request.body;
          return db.transaction(async (tx) => {
            await tx.lock(`archive-session:${sessionId}`);
            const session = await findStoredSession(tx, sessionId);
            if (session === undefined) throw notFound(`session ${sessionId}`);
            if (session.expiredAt !== null) throw new HttpError('gone', `session ${sessionId}'s recording was already deleted at the end of its retention`);
            await setLegalHold(tx, sessionId, on);
            // The store holds it too (S3 Object Lock legal hold): inside the transaction, so that a
            // failure leaves the row as it was. Either half being held is enough to stop the sweeper.
            await blobs.setLegalHold(session.storageKey, on);
            await audit(tx, request, on ? 'archive.legal-hold.set' : 'archive.legal-hold.clear', sessionId, { reason });
            return summaryOf({ ...session, legalHold: on });
          });
        },
      );

      app.get(
        '/v1/quarantine',
        {
          config: { access: ['auditor', 'service-admin'] },
          schema: { summary: 'Bundles that failed verification at ingest, newest first (kept, never deleted)', querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(100) }), response: { 200: QuarantinePageSchema } },
        },
        async (request) => ({ entries: await listQuarantine(db, request.query.limit) }),
      );

      const minutes = config.archive.sweepIntervalMinutes;
      if (minutes > 0) {
        timer = setInterval(() => {
          sweepExpired(db, blobs, now(), app.log).catch((error: unknown) => app.log.error({ err: error }, 'retention sweep failed'));
        }, minutes * 60_000);
        timer.unref();
      }
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}
