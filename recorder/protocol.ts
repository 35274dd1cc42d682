/**
 * The recorder's one contract: the calls a client (the CLI, Electron main,
 * the browser host) makes, and the events the recorder emits. Both ends
 * validate every message against these schemas. The transport is a Node IPC
 * channel with `serialization: 'advanced'` (so output bytes travel as
 * Uint8Array); in Electron it will be a utilityProcess MessagePort, which
 * carries the same structured-clone values.
 */
import { z } from 'zod';
import { RedactionPolicySchema } from '../shared/redaction/policy.ts';

export const SESSION_ID = /^[A-Za-z0-9_-]{8,64}$/;
const sessionId = z.string().regex(SESSION_ID, 'session id must be 8–64 letters, digits, "-" or "_"');
const dimension = z.number().int().min(1).max(1000);
const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'must be bytes (Uint8Array)');


export const OpenCallSchema = z.strictObject({
  type: z.literal('open'),
  sessionId,
  // The same limits as the manifest's `command` (shared/bundle/manifest.ts): a longer command
  // line would make a bundle that no verifier accepts.
  command: z.string().min(1).max(4096),
  args: z.array(z.string().max(4096)).max(255),
  cwd: z.string().min(1).max(4096),
  env: z.record(z.string().max(1024), z.string().max(65536)),
  cols: dimension,
  rows: dimension,
  /** Free-form labels (user, target, grant id…) copied into the manifest. */
  metadata: z.record(z.string().max(128), z.string().max(4096)),
  /** Values the app injected (tokens, passwords) that must never be recorded. */
  knownSecrets: z.array(z.string().min(1).max(65536)).max(256),
  /**
   * The org's redaction policy in full (shared/redaction/policy.ts): built-in rule set, org
   * rules, allowlists, whether keystrokes are recorded. Its version goes into the manifest.
   */
  redactionPolicy: RedactionPolicySchema,
  /** Where to write the sealed bundle; defaults to the recorder's bundle folder. */
  bundlePath: z.string().min(1).max(4096).optional(),
  /**
   * The org root's certificate for this device's key (keys/device-cert.dsse.json, the DSSE bytes
   * the central service returned at enrollment). Packed into the bundle so that it verifies as
   * trusted against the org's trust root. Refused (the session does not start) if it certifies
   * another key.
   */
  deviceCert: bytes.refine((value) => value.length <= 64 * 1024, 'must be at most 64 KiB').optional(),
});
export type OpenCall = z.infer<typeof OpenCallSchema>;

export const RecorderCallSchema = z.discriminatedUnion('type', [
  OpenCallSchema,
  z.strictObject({ type: z.literal('input'), sessionId, data: z.string().min(1).max(1024 * 1024) }),
  z.strictObject({ type: z.literal('resize'), sessionId, cols: dimension, rows: dimension }),
  z.strictObject({ type: z.literal('close'), sessionId }),
  /**
   * Flow control (as xterm.js recommends): the client acknowledges display bytes
   * it has taken. Past DISPLAY_HIGH_WATER unacknowledged bytes the pty is paused,
   * so a slow or frozen client never makes the recorder buffer without bound.
   */
  z.strictObject({ type: z.literal('ack'), sessionId, bytes: z.number().int().positive().max(2 ** 31) }),
]);
export type RecorderCall = z.infer<typeof RecorderCallSchema>;

export const CheckpointKindSchema = z.enum(['open', 'input', 'interval', 'size', 'resize', 'marker', 'seal']);

export const RecorderEventSchema = z.discriminatedUnion('type', [
  /** Display path: raw pty bytes, unredacted, sent before anything is recorded. */
  z.strictObject({ type: z.literal('output'), sessionId, data: bytes }),
  z.strictObject({
    type: z.literal('checkpoint'),
    sessionId,
    kind: CheckpointKindSchema,
    size: z.number().int().nonnegative(),
    /** The full signed note, ready to stream to the central service. */
    note: z.string(),
  }),
  z.strictObject({
    type: z.literal('exit'),
    sessionId,
    exitCode: z.number().int(),
    signal: z.number().int().nullable(),
  }),
  z.strictObject({
    type: z.literal('error'),
    /** Absent for errors that concern no one session (e.g. recovery of a spool that cannot be read). */
    sessionId: sessionId.optional(),
    code: z.enum(['invalid-call', 'open-failed', 'spool-write-failed', 'recording-limit', 'seal-failed', 'recovery-failed', 'unknown-session']),
    message: z.string(),
    /** The session has ended because of this error. */
    fatal: z.boolean(),
  }),
  z.strictObject({
    type: z.literal('sealed'),
    sessionId,
    bundlePath: z.string(),
    /** Packed from a spool left by a crash, not from a clean exit. */
    recovered: z.boolean(),
    sha256: z.string(),
  }),
  /** Sent once at start-up, after crash recovery: the recorder is ready for calls. */
  z.strictObject({ type: z.literal('ready'), deviceKeyId: z.string(), pid: z.number().int() }),
]);
export type RecorderEvent = z.infer<typeof RecorderEventSchema>;

/** Describes the first problem in a message, for the `invalid-call` error. */
export function describeInvalid(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid message';
  const path = issue.path.map(String).join('.');
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}
