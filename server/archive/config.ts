/** The archive's part of the service configuration: how long recordings are kept. */
import { z } from 'zod';

export const ArchiveConfigSchema = z
  .strictObject({
    /** Days a stored recording is kept before the sweeper may delete it (legal hold overrides). */
    retentionDays: z.number().int().min(1).max(36500).default(365),
    /** How often the sweeper looks for expired recordings; 0: never (run it by hand). */
    sweepIntervalMinutes: z.number().int().min(0).max(10080).default(60),
  })
  .prefault({});
export type ArchiveConfig = z.infer<typeof ArchiveConfigSchema>;
