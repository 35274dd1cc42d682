/**
 * Device enrollment and the trust root, as the service serves them and the app calls them:
 *
 *   POST /v1/devices/challenge      a single-use nonce, valid 2 minutes, for the caller
 *   POST /v1/devices                enroll (or renew) a device key with proof of possession
 *   GET  /v1/devices                the caller's devices (`?all=true`: everyone's, auditors and service admins)
 *   GET  /v1/devices/:id            one device
 *   POST /v1/devices/:id/revoke     admins their own, service admins any
 *   GET  /v1/trust-root             public: the org root and service keys auditors load
 *
 * Proof of possession: the device key signs `enrollmentMessage(nonce, subject, publicKey)`, a
 * fixed, domain-separated message, so the signature can serve for nothing else, for no other
 * user, no other key, and (the nonce being single-use) only once.
 */
import { z } from 'zod';
import { utf8 } from '../bundle/bytes.ts';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const keyId = z.string().regex(/^[0-9a-f]{64}$/, 'must be a device key id (64 lowercase hex digits)');

/** What the device key signs; the first line keeps the signature from meaning anything else. */
export const ENROLLMENT_CONTEXT = 'custody-device-enrollment-v1';

export function enrollmentMessage(nonce: string, subject: string, publicKey: string): Uint8Array {
  return utf8(`${ENROLLMENT_CONTEXT}\n${JSON.stringify({ nonce, subject, publicKey })}`);
}

export const DeviceChallengeSchema = z.strictObject({
  /** 32 random bytes, base64url. */
  nonce: z.string(),
  /** The nonce is refused after this (ms since the epoch, the server's clock). */
  expiresAt: z.number().int(),
  /** The subject the signed message must name (the caller's). */
  subject: z.string(),
});
export type DeviceChallenge = z.infer<typeof DeviceChallengeSchema>;

export const EnrollDeviceSchema = z.strictObject({
  /** The device's Ed25519 public key, 32 bytes, base64. */
  publicKey: base64.max(64),
  /** What the user calls this device ("work laptop"). */
  name: z.string().trim().min(1).max(100),
  nonce: z.string().min(1).max(100),
  /** Ed25519 signature of enrollmentMessage(nonce, subject, publicKey), 64 bytes, base64. */
  signature: base64.max(128),
});
export type EnrollDevice = z.infer<typeof EnrollDeviceSchema>;

export const DeviceSchema = z.strictObject({
  /** The device key id: lowercase hex SHA-256 of the public key. */
  id: keyId,
  owner: z.string(),
  name: z.string(),
  publicKey: z.string(),
  enrolledAt: z.number().int(),
  /** The current certificate's validity. */
  notBefore: z.number().int(),
  notAfter: z.number().int(),
  revokedAt: z.number().int().nullable(),
  revokedBy: z.string().nullable(),
  /** keys/device-cert.dsse.json as the recorder embeds it: the org root's DSSE envelope, JSON text. */
  certificate: z.string(),
});
export type Device = z.infer<typeof DeviceSchema>;

export const EnrolledDeviceSchema = z.strictObject({
  device: DeviceSchema,
  /** True when the key was already enrolled by the caller and this call renewed its certificate. */
  renewed: z.boolean(),
});

export const DeviceListQuerySchema = z.strictObject({
  all: z.enum(['true', 'false']).default('false'),
});

export const DeviceListSchema = z.strictObject({ devices: z.array(DeviceSchema) });

export const DeviceParamsSchema = z.strictObject({ id: keyId });

export const RevokeDeviceSchema = z.strictObject({ reason: z.string().trim().max(500).optional() }).prefault({});
