/**
 * The SSH certificate authority as the service serves it:
 *
 * - `GET /v1/ca/public-key` (public): the CA's OpenSSH public key line, for sshd's
 *   `TrustedUserCAKeys`;
 * - `GET /v1/ca/krl` (public): the OpenSSH key revocation list, for sshd's `RevokedKeys`;
 * - `POST /v1/grants/:grantId/certificate`: a short-lived user certificate for the caller's
 *   public key, on their ACTIVE grant.
 */
import { z } from 'zod';

/**
 * A grant id as it may appear in a path: letters, digits, `_` and `-` (a UUID, a ULID), so that
 * `..`, slashes and encoded tricks never reach a lookup, a key id or a log line.
 */
export const GrantIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'must be 1-128 of A-Z a-z 0-9 _ - (starting with a letter or digit)');

export const GrantCertificateParamsSchema = z.strictObject({ grantId: GrantIdSchema });

/** The longest public key line taken: an RSA key of 16384 bits (OpenSSH's limit) is about 2.8 KB. */
export const MAX_PUBLIC_KEY_CHARS = 8192;

export const CertificateRequestSchema = z.strictObject({
  /** One OpenSSH public key line, `type base64 [comment]` (the .pub file). Never a private key. */
  publicKey: z.string().min(1, 'must not be empty').max(MAX_PUBLIC_KEY_CHARS, `must be at most ${MAX_PUBLIC_KEY_CHARS} characters (one OpenSSH public key line)`),
});
export type CertificateRequest = z.infer<typeof CertificateRequestSchema>;

export const IssuedCertificateSchema = z.strictObject({
  /** The OpenSSH certificate line (`…-cert-v01@openssh.com base64 comment`): save it as the key's `-cert.pub`. */
  certificate: z.string(),
  /** Unique and increasing over the CA's life; what the KRL names when it is revoked. */
  serial: z.number().int().positive(),
  /** `custody grant=<grant id> sub=<subject>`: shown in sshd's log on every login. */
  keyId: z.string(),
  grantId: GrantIdSchema,
  principals: z.array(z.string()).min(1),
  /** SHA256 fingerprint of the certified public key, as `ssh-keygen -l` prints it. */
  keyFingerprint: z.string(),
  /** Valid from (ms since the epoch; a little before issue, for clock skew) to the grant's end. */
  validAfter: z.number().int(),
  validBefore: z.number().int(),
  issuedAt: z.number().int(),
});
export type IssuedCertificateBody = z.infer<typeof IssuedCertificateSchema>;
