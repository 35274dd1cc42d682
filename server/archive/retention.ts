/**
 * The retention sweeper: deletes stored recordings whose retention has lapsed and that are not
 * under legal hold — and nothing else. Quarantined bundles are never swept. Each deletion is
 * audited (actor `system`) in the transaction that marks the index row expired; the row stays.
 *
 * The blob store enforces the same rule on its side (`deleteExpired` refuses a held object or
 * one still retained), so a sweeper that read a stale row cannot delete too early.
 */
import type { FastifyBaseLogger } from 'fastify';
import { appendAudit } from '../audit/audit-log.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { expiredSessions, findStoredSession, markExpired } from './archive-store.ts';

export interface SweepResult {
  readonly expired: string[];
  readonly failed: { sessionId: string; reason: string }[];
}

export async function sweepExpired(db: Database, blobs: BlobStore, now: number, log?: FastifyBaseLogger, batch = 100): Promise<SweepResult> {
  const expired: string[] = [];
  const failed: { sessionId: string; reason: string }[] = [];
  for (const session of await expiredSessions(db, now, batch)) {
    try {
      await db.transaction(async (tx) => {
        await tx.lock(`archive-session:${session.sessionId}`);
        // Read again under the lock: a hold set since the list was read wins.
        const current = await findStoredSession(tx, session.sessionId);
        if (current === undefined || current.legalHold || current.retainUntil > now || current.expiredAt !== null) return;
        await blobs.deleteExpired(current.storageKey, now);
        await markExpired(tx, current.sessionId, now);
        await appendAudit(tx, { actor: 'system', action: 'archive.expire', target: current.sessionId, details: { storageKey: current.storageKey, retainUntil: current.retainUntil } }, now);
        expired.push(current.sessionId);
      });
    } catch (error) {
      failed.push({ sessionId: session.sessionId, reason: (error as Error).message });
      log?.warn({ sessionId: session.sessionId, err: error }, 'retention: could not delete an expired recording');
    }
  }
  return { expired, failed };
}
