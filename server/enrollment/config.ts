/** The enrollment module's part of the service configuration (`enrollment` in the configuration file). */
import { z } from 'zod';

export const EnrollmentConfigSchema = z
  .strictObject({
    /** How long a device certificate is valid; the app renews it by enrolling the same key again. */
    certificateDays: z.number().int().min(1).max(825).default(90),
    /** How long a challenge nonce may be used (once). */
    challengeSeconds: z.number().int().min(10).max(900).default(120),
    /** The trust root's name, as `custody verify --trust` shows it. */
    trustRootName: z.string().min(1).max(200).default('Custody'),
  })
  .prefault({});

export type EnrollmentConfig = z.infer<typeof EnrollmentConfigSchema>;
