/**
 * The JSON documents inside a bundle: the manifest (an in-toto Statement v1
 * carried in DSSE), the two key certificates, and the trust root file that
 * auditors load. One zod schema each; the verifier and the writer share them.
 */
import { z } from 'zod';

export const FORMAT_VERSION = 1;

export const MANIFEST_ENTRY = 'manifest.dsse.json';
export const SESSION_KEY_ENTRY = 'keys/session-key.dsse.json';
export const DEVICE_CERT_ENTRY = 'keys/device-cert.dsse.json';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://custody.dev/session/v1';
export const MANIFEST_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const SESSION_KEY_PAYLOAD_TYPE = 'application/vnd.custody.session-key.v1+json';
export const DEVICE_CERT_PAYLOAD_TYPE = 'application/vnd.custody.device-cert.v1+json';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').max(200);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
/** Unix milliseconds within what a JavaScript Date can hold (ECMA-262 §21.4.1.1: ±8.64e15). */
const millis = z.number().int().nonnegative().max(8_640_000_000_000_000);
const shortText = z.string().max(4096);

/** Statement and predicate are read leniently on version so that a newer format gets a clear message. */
export const VersionProbeSchema = z.object({ formatVersion: z.unknown() }).loose();

export const SessionKeyCertSchema = z.strictObject({
  formatVersion: z.literal(FORMAT_VERSION),
  sessionId: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
  origin: shortText,
  keyName: z.string().regex(/^[^\s+\u2014]{1,200}$/u),
  publicKey: base64,
  devicePublicKey: base64,
  issuedAt: millis,
});
export type SessionKeyCert = z.infer<typeof SessionKeyCertSchema>;

export const DeviceCertSchema = z.strictObject({
  formatVersion: z.literal(FORMAT_VERSION),
  devicePublicKey: base64,
  deviceKeyId: hex64,
  subject: z.strictObject({ sub: shortText, name: shortText.optional(), email: shortText.optional() }),
  notBefore: millis,
  notAfter: millis,
  issuerKeyId: hex64,
});
export type DeviceCert = z.infer<typeof DeviceCertSchema>;

export const RecoverySchema = z.strictObject({
  /** When recovery packed the spool. */
  recoveredAt: millis,
  /** Lines covered by the last signed checkpoint. */
  sealedSize: z.number().int().nonnegative(),
  /** Bytes of a torn (incomplete) last line that recovery dropped. */
  tornBytes: z.number().int().nonnegative(),
  reason: shortText,
});

export const PredicateSchema = z.strictObject({
  formatVersion: z.literal(FORMAT_VERSION),
  sessionId: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
  origin: shortText,
  startedAt: millis,
  endedAt: millis.nullable(),
  command: z.array(shortText).max(256),
  cwd: shortText.optional(),
  metadata: z.record(z.string().max(128), shortText),
  tree: z.strictObject({ size: z.number().int().nonnegative(), root: base64 }),
  sealed: z.boolean(),
  exitStatus: z.number().int().nullable(),
  recovered: RecoverySchema.nullable(),
  redaction: z.strictObject({
    policyVersion: shortText,
    counts: z.record(z.string().max(128), z.number().int().nonnegative()),
  }),
});
export type SessionPredicate = z.infer<typeof PredicateSchema>;

export const SubjectSchema = z.strictObject({
  name: z.string().max(512),
  digest: z.strictObject({ sha256: hex64 }),
});

export const StatementSchema = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.array(SubjectSchema).min(1).max(16),
  predicateType: z.literal(PREDICATE_TYPE),
  predicate: PredicateSchema,
});
export type Statement = z.infer<typeof StatementSchema>;

export const TrustRootSchema = z.strictObject({
  version: z.literal(1),
  name: shortText.optional(),
  keys: z
    .array(
      z.strictObject({
        keyId: hex64,
        publicKey: base64,
        role: z.enum(['org-root', 'device', 'service']),
        name: shortText.optional(),
      }),
    )
    .max(10000),
});
export type TrustRoot = z.infer<typeof TrustRootSchema>;
