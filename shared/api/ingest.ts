/**
 * Ingest, as the service and the desktop client both see it: the tus upload of a finished
 * bundle (`/v1/uploads/`, metadata below), the signed receipt the service answers with, and the
 * live checkpoints a running session streams (`POST /v1/sessions/:id`, then
 * `POST /v1/sessions/:id/checkpoints`).
 *
 * The receipt is a DSSE envelope signed by the service key: anyone holding the trust root (whose
 * `service` key it names) checks it offline with `verifyReceipt`.
 */
import { z } from 'zod';
import { decodeUtf8Strict, fromBase64, utf8 } from '../bundle/bytes.ts';
import { nobleSuite, type CryptoSuite } from '../bundle/crypto.ts';
import { EnvelopeSchema, verifyEnvelope, type Envelope } from '../bundle/dsse.ts';
import type { TrustRoot } from '../bundle/manifest.ts';

/**
 * A session id as the service accepts it: the bundle format's characters, and never `.` or `..`
 * (it becomes part of a storage key).
 */
export const SessionIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 . _ -')
  .refine((id) => id !== '.' && id !== '..', 'may not be "." or ".."');

export const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/** tus Upload-Metadata the client sends when it creates an upload (values base64, per tus). */
export const UploadMetadataSchema = z.object({
  sessionId: SessionIdSchema,
  /** SHA-256 of the whole bundle: checked against what arrives. */
  sha256: Sha256HexSchema,
  filename: z.string().max(256).optional(),
});
export type UploadMetadata = z.infer<typeof UploadMetadataSchema>;

export const RECEIPT_PAYLOAD_TYPE = 'application/vnd.custody.ingest-receipt.v1+json';

/** What the receipt attests. */
export const ReceiptSchema = z.strictObject({
  formatVersion: z.literal(1),
  sessionId: SessionIdSchema,
  /** SHA-256 and size of the stored object (the bundle with the service's countersignature). */
  sha256: Sha256HexSchema,
  size: z.number().int().nonnegative(),
  /** SHA-256 of the bundle as uploaded (before the countersignature). */
  uploadedSha256: Sha256HexSchema,
  storedAt: z.number().int().nonnegative(),
  storageKey: z.string().max(512),
  tree: z.strictObject({ size: z.number().int().nonnegative(), root: z.string().max(100) }),
  /** `intact`: sealed and trusted. `recovered`: a crash-recovered bundle, trusted, unsealed tail. */
  verdict: z.enum(['intact', 'recovered']),
  /** How many streamed checkpoints the service had cosigned and found in the bundle. */
  cosignedCheckpoints: z.number().int().nonnegative(),
  serviceKeyId: Sha256HexSchema,
});
export type Receipt = z.infer<typeof ReceiptSchema>;

/** The body of a successful ingest (the final PATCH, or `GET /v1/sessions/:id/receipt`). */
export const IngestResultSchema = z.strictObject({
  status: z.literal('stored'),
  receipt: ReceiptSchema,
  /** The same receipt, signed: keep this. */
  envelope: EnvelopeSchema,
});
export type IngestResult = z.infer<typeof IngestResultSchema>;

/** The body of a refused ingest: why, and where the bundle now is. */
export const IngestRefusalSchema = z.strictObject({
  error: z.enum(['quarantined', 'conflict', 'bad-request', 'forbidden']),
  message: z.string(),
  quarantineKey: z.string().optional(),
  /** The verifier's findings, when verification is what failed. */
  findings: z.array(z.strictObject({ status: z.string(), message: z.string() })).optional(),
});
export type IngestRefusal = z.infer<typeof IngestRefusalSchema>;

export class ReceiptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReceiptError';
  }
}

/** Checks a receipt envelope against the trust root's service keys and returns what it attests. */
export function verifyReceipt(envelope: Envelope, trustRoot: TrustRoot, suite: CryptoSuite = nobleSuite): Receipt {
  if (envelope.payloadType !== RECEIPT_PAYLOAD_TYPE) throw new ReceiptError(`the envelope is a ${envelope.payloadType}, not an ingest receipt`);
  const payload = fromBase64(envelope.payload);
  if (payload === undefined) throw new ReceiptError('the receipt payload is not base64');
  let body: unknown;
  try {
    body = JSON.parse(decodeUtf8Strict(payload) ?? '');
  } catch {
    throw new ReceiptError('the receipt payload is not JSON');
  }
  const receipt = ReceiptSchema.safeParse(body);
  if (!receipt.success) throw new ReceiptError(`the receipt is not valid: ${receipt.error.issues[0]?.message ?? 'invalid'}`);
  const key = trustRoot.keys.find((k) => k.role === 'service' && k.keyId === receipt.data.serviceKeyId);
  const publicKey = key === undefined ? undefined : fromBase64(key.publicKey);
  if (publicKey === undefined) throw new ReceiptError(`the receipt names service key ${receipt.data.serviceKeyId.slice(0, 16)}…, which the trust root does not hold`);
  if (!verifyEnvelope(suite, { envelope, payload, body }, publicKey)) throw new ReceiptError('the receipt is not validly signed by the service key it names');
  return receipt.data;
}

/** Serialises a receipt the way the service signs it (compact JSON, as DSSE payloads are written). */
export function receiptPayload(receipt: Receipt): Uint8Array {
  return utf8(JSON.stringify(receipt));
}

// ---------------------------------------------------------------------------------------------
// Live checkpoints.

/** `POST /v1/sessions/:id`: the session key certificate, exactly the bytes of keys/session-key.dsse.json. */
export const SessionStartSchema = z.strictObject({
  /** base64 of the file's bytes (checkpoint 1 chains to their SHA-256, so the bytes matter). */
  sessionKeyCert: z.string().min(1).max(64 * 1024),
  /** base64 of keys/device-cert.dsse.json, when the device is enrolled with an org root. */
  deviceCert: z.string().min(1).max(64 * 1024).optional(),
});

export const SessionStartedSchema = z.strictObject({
  sessionId: SessionIdSchema,
  sessionKeyId: Sha256HexSchema,
  deviceKeyId: Sha256HexSchema,
  /** Checkpoints already held (a client resuming the stream starts after them). */
  checkpoints: z.number().int().nonnegative(),
});

/** The key name of the service's cosignature line on checkpoint notes (verify with the trust root's service key). */
export const SERVICE_NOTE_KEY_NAME = 'custody-service';

export const CheckpointSubmitSchema = z.strictObject({
  /** One signed note, as in recording/checkpoints.notes (without the separating blank line). */
  note: z.string().min(1).max(4096),
});

export const CheckpointAckSchema = z.strictObject({
  /** 1-based position in the session's chain. */
  index: z.number().int().positive(),
  size: z.number().int().nonnegative(),
  /** The note with the service's signature line added (C2SP signed-note cosignature). */
  cosigned: z.string(),
});
export type CheckpointAck = z.infer<typeof CheckpointAckSchema>;

/** `GET /v1/sessions/:id/checkpoints`: what the service cosigned while the session ran, in order. */
export const CosignedCheckpointsSchema = z.strictObject({
  checkpoints: z.array(
    CheckpointAckSchema.extend({
      root: z.string(),
      time: z.number().int(),
      kind: z.string(),
    }),
  ),
});
