/** The caller as the service sees them: `GET /v1/me`, and the service's health. */
import { z } from 'zod';

export const MeSchema = z.strictObject({
  subject: z.string(),
  name: z.string().optional(),
  email: z.string().optional(),
  groups: z.array(z.string()),
  roles: z.array(z.enum(['admin', 'approver', 'auditor', 'service-admin'])),
  /** When the access token expires (ms since the epoch). */
  expiresAt: z.number().int(),
  /** The device named in x-custody-device, when it is one of the caller's enrolled, unrevoked devices. */
  device: z.string().optional(),
});
export type Me = z.infer<typeof MeSchema>;

export const HealthSchema = z.strictObject({
  status: z.literal('ok'),
  /** The server's clock (ms since the epoch): clients show deadlines against it. */
  now: z.number().int(),
  database: z.enum(['sqlite', 'postgres']),
});
export type Health = z.infer<typeof HealthSchema>;
