/**
 * The archive over HTTP: stored sessions, searched by owner, target, time, grant and the text of
 * their (redacted) output; legal hold; export of the stored bundle; the quarantine list.
 */
import { z } from 'zod';
import { ReceiptSchema, SessionIdSchema, Sha256HexSchema } from './ingest.ts';

export const SessionParamsSchema = z.strictObject({ sessionId: SessionIdSchema });

export const StoredSessionSchema = z.strictObject({
  sessionId: SessionIdSchema,
  /** The uploader's subject: whose session it is. */
  owner: z.string(),
  target: z.string().nullable(),
  grantId: z.string().nullable(),
  startedAt: z.number().int(),
  endedAt: z.number().int().nullable(),
  storedAt: z.number().int(),
  verdict: z.enum(['intact', 'recovered']),
  size: z.number().int(),
  sha256: Sha256HexSchema,
  retainUntil: z.number().int(),
  legalHold: z.boolean(),
  /** Set once the retention sweeper deleted the stored object (the index row stays). */
  expiredAt: z.number().int().nullable(),
});
export type StoredSession = z.infer<typeof StoredSessionSchema>;

export const SessionDetailSchema = StoredSessionSchema.extend({ receipt: ReceiptSchema });

export const SearchQuerySchema = z.strictObject({
  /** Owner subject; an admin may only name themselves (and sees only their own either way). */
  owner: z.string().min(1).max(256).optional(),
  target: z.string().min(1).max(256).optional(),
  grantId: z.string().min(1).max(256).optional(),
  /** Sessions that started at or after / before these times (ms since the epoch). */
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
  /** Words that must all appear in the session's output text. */
  text: z.string().min(1).max(500).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const SearchPageSchema = z.strictObject({ sessions: z.array(StoredSessionSchema) });

export const LegalHoldSchema = z.strictObject({
  on: z.boolean(),
  reason: z.string().min(1).max(1000),
});

export const QuarantineEntrySchema = z.strictObject({
  id: z.number().int(),
  sessionId: z.string(),
  uploader: z.string(),
  sha256: Sha256HexSchema,
  size: z.number().int(),
  storageKey: z.string(),
  reason: z.string(),
  at: z.number().int(),
});
export const QuarantinePageSchema = z.strictObject({ entries: z.array(QuarantineEntrySchema) });
