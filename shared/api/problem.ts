/**
 * The central service's error body, the same on every route: a stable code for programs, a
 * message for people that says what was wrong, and, for invalid input, each field's problem.
 */
import { z } from 'zod';

export const PROBLEM_CODES = [
  'bad-request',
  'unauthenticated',
  'forbidden',
  'not-found',
  'conflict',
  'gone',
  'payload-too-large',
  'unsupported-media-type',
  'too-many-requests',
  'unavailable',
  'internal',
] as const;

export const ProblemSchema = z.strictObject({
  error: z.enum(PROBLEM_CODES),
  message: z.string(),
  /** For `bad-request` from validation: `body.reason: must not be empty`. */
  issues: z.array(z.string()).optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;

/** The header that names the calling device (its enrolled key id). */
export const DEVICE_HEADER = 'x-custody-device';
export const DeviceIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 . _ : -');
