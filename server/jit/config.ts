/**
 * The JIT module's part of the service configuration (`jit` in the configuration file): how long
 * undecided and unstarted requests live, how often the sweeper looks, the live-update buffer, and
 * the optional webhook for chat and ticket systems.
 */
import { z } from 'zod';

export const JitConfigSchema = z
  .strictObject({
    /** A request nobody decided expires after this. */
    pendingExpirySeconds: z.number().int().min(1).max(30 * 24 * 3600).default(3600),
    /** An approved grant nobody started expires after this. */
    approvedStartSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(1800),
    /** How often the sweeper settles due expiries, so state is right whether or not anyone reads. */
    sweepIntervalMs: z.number().int().min(10).max(3_600_000).default(15_000),
    /** SSE: comment lines that keep proxies from closing an idle stream. */
    heartbeatMs: z.number().int().min(10).max(300_000).default(15_000),
    /** SSE: how many recent events each instance keeps for Last-Event-ID resume. */
    eventBuffer: z.number().int().min(1).max(100_000).default(1000),
    /** The service's one webhook: JIT events and ingest's quarantine alerts (server/jit/webhook.ts). */
    webhook: z
      .strictObject({
        url: z.url({ protocol: /^https?$/ }),
        /** The HMAC-SHA256 key of the signature header. */
        secret: z.string().min(16, 'must be at least 16 characters'),
        attempts: z.number().int().min(1).max(10).default(4),
        /** The first retry waits this long; each next one twice as long. */
        retryDelayMs: z.number().int().min(1).max(60_000).default(500),
      })
      .optional(),
  })
  .prefault({});

export type JitConfig = z.infer<typeof JitConfigSchema>;
