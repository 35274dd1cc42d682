/** The audit log as the service serves it: `GET /v1/audit` and `GET /v1/audit/verify`. */
import { z } from 'zod';

export const AuditEntrySchema = z.strictObject({
  seq: z.number().int().positive(),
  at: z.number().int(),
  actor: z.string(),
  device: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  /** JSON text, exactly as hashed. */
  details: z.string(),
  prevHash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type AuditEntryBody = z.infer<typeof AuditEntrySchema>;

export const AuditPageQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const AuditPageSchema = z.strictObject({ entries: z.array(AuditEntrySchema) });

export const ChainReportSchema = z.discriminatedUnion('ok', [
  z.strictObject({ ok: z.literal(true), entries: z.number().int(), head: z.string() }),
  z.strictObject({ ok: z.literal(false), entries: z.number().int(), brokenAt: z.number().int(), reason: z.string() }),
]);
export type ChainReportBody = z.infer<typeof ChainReportSchema>;
