/**
 * Devices and their certificates: challenges, proof of possession, the org root's DeviceCert
 * (a DSSE envelope, ARCHITECTURE.md "Keys and trust"), listing and revocation. The routes
 * (routes.ts) call these inside the change's transaction.
 */
import { randomBytes } from 'node:crypto';
import { enrollmentMessage, type Device, type DeviceChallenge } from '../../shared/api/enrollment.ts';
import { fromBase64, toBase64, utf8 } from '../../shared/bundle/bytes.ts';
import { keyIdOf, nobleSuite } from '../../shared/bundle/crypto.ts';
import { serializeEnvelope, signEnvelope } from '../../shared/bundle/dsse.ts';
import { DEVICE_CERT_PAYLOAD_TYPE, FORMAT_VERSION, type DeviceCert } from '../../shared/bundle/manifest.ts';
import type { Principal } from '../auth/access-token.ts';
import type { Queryable } from '../db/database.ts';
import { badRequest, conflict, forbidden } from '../http/errors.ts';
import type { ServiceKey } from '../keys/service-keys.ts';

const DAY_MS = 86_400_000;
/** Spent and expired challenges are kept this long (a replay is then told "already used", not "unknown"). */
const CHALLENGE_KEEP_MS = DAY_MS;

export async function createChallenge(tx: Queryable, subject: string, now: number, ttlMs: number): Promise<DeviceChallenge> {
  await tx.run('DELETE FROM device_challenges WHERE expires_at < ?', [now - CHALLENGE_KEEP_MS]);
  const nonce = randomBytes(32).toString('base64url');
  const expiresAt = now + ttlMs;
  await tx.run('INSERT INTO device_challenges (nonce, subject, expires_at, used_at) VALUES (?, ?, ?, NULL)', [nonce, subject, expiresAt]);
  return { nonce, expiresAt, subject };
}

/** Checks the signature over the enrollment message; returns the raw public key. Before any state is touched. */
export function checkPossession(subject: string, input: { publicKey: string; nonce: string; signature: string }): Uint8Array {
  const publicKey = fromBase64(input.publicKey);
  if (publicKey?.length !== 32) throw badRequest('publicKey is not a 32-byte Ed25519 public key in base64');
  const signature = fromBase64(input.signature);
  if (signature?.length !== 64) throw badRequest('signature is not a 64-byte Ed25519 signature in base64');
  if (!nobleSuite.ed25519Verify(publicKey, enrollmentMessage(input.nonce, subject, input.publicKey), signature)) {
    throw forbidden('the signature does not prove possession of this key: sign enrollmentMessage(nonce, your subject, publicKey) with the device key');
  }
  return publicKey;
}

/** Spends the caller's challenge once; refuses an unknown, foreign, spent or expired nonce. */
export async function spendChallenge(tx: Queryable, nonce: string, subject: string, now: number): Promise<void> {
  await tx.lock(`device-challenge:${nonce}`);
  const row = await tx.get<{ subject: string; expires_at: number | string; used_at: number | string | null }>(
    'SELECT subject, expires_at, used_at FROM device_challenges WHERE nonce = ?',
    [nonce],
  );
  // Another user's nonce is answered like an unknown one: nonces are not to be probed.
  if (row === undefined || row.subject !== subject) throw forbidden('the challenge nonce is unknown: ask POST /v1/devices/challenge for one');
  if (row.used_at !== null) throw forbidden('the challenge nonce was already used: ask for a new one');
  if (now > Number(row.expires_at)) throw forbidden('the challenge nonce has expired: ask for a new one');
  await tx.run('UPDATE device_challenges SET used_at = ? WHERE nonce = ? AND used_at IS NULL', [now, nonce]);
}

/** The org root's certificate for a device key: a DSSE envelope of a DeviceCert, as bundles carry it. */
export function certifyDevice(orgRoot: ServiceKey, publicKey: Uint8Array, who: Pick<Principal, 'subject' | 'name' | 'email'>, now: number, days: number): { certificate: string; cert: DeviceCert } {
  const cert: DeviceCert = {
    formatVersion: FORMAT_VERSION,
    devicePublicKey: toBase64(publicKey),
    deviceKeyId: keyIdOf(nobleSuite, publicKey),
    subject: { sub: who.subject, ...(who.name === undefined ? {} : { name: who.name }), ...(who.email === undefined ? {} : { email: who.email }) },
    notBefore: now,
    notAfter: now + days * DAY_MS,
    issuerKeyId: orgRoot.keyId,
  };
  const envelope = signEnvelope(nobleSuite, DEVICE_CERT_PAYLOAD_TYPE, utf8(JSON.stringify(cert)), orgRoot);
  return { certificate: new TextDecoder().decode(serializeEnvelope(envelope)), cert };
}

interface DeviceRow {
  id: string;
  owner: string;
  name: string;
  public_key: string;
  certificate: string;
  not_before: number | string;
  not_after: number | string;
  enrolled_at: number | string;
  revoked_at: number | string | null;
  revoked_by: string | null;
}

const COLUMNS = 'id, owner, name, public_key, certificate, not_before, not_after, enrolled_at, revoked_at, revoked_by';

function toDevice(row: DeviceRow): Device {
  return {
    id: row.id,
    owner: row.owner,
    name: row.name,
    publicKey: row.public_key,
    enrolledAt: Number(row.enrolled_at),
    notBefore: Number(row.not_before),
    notAfter: Number(row.not_after),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    revokedBy: row.revoked_by,
    certificate: row.certificate,
  };
}

export async function findDevice(db: Queryable, id: string): Promise<Device | undefined> {
  const row = await db.get<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE id = ?`, [id]);
  return row === undefined ? undefined : toDevice(row);
}

/** A user's devices (or everyone's), newest first. */
export async function listDevices(db: Queryable, owner: string | undefined): Promise<Device[]> {
  const rows =
    owner === undefined
      ? await db.all<DeviceRow>(`SELECT ${COLUMNS} FROM devices ORDER BY enrolled_at DESC, id`)
      : await db.all<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE owner = ? ORDER BY enrolled_at DESC, id`, [owner]);
  return rows.map(toDevice);
}

/**
 * Enrolls a key, or renews the certificate of a key the same user enrolled before. A key another
 * user enrolled, or one that was revoked, is refused: a revoked key is never trusted again.
 */
export async function enrollDevice(
  tx: Queryable,
  input: { publicKey: Uint8Array; name: string; who: Pick<Principal, 'subject' | 'name' | 'email'>; orgRoot: ServiceKey; now: number; days: number },
): Promise<{ device: Device; renewed: boolean }> {
  const id = keyIdOf(nobleSuite, input.publicKey);
  await tx.lock(`device:${id}`);
  const existing = await findDevice(tx, id);
  if (existing !== undefined && existing.revokedAt !== null) throw conflict(`device key ${id.slice(0, 16)}… was revoked and is never enrolled again: make a new device key`);
  if (existing !== undefined && existing.owner !== input.who.subject) throw conflict(`device key ${id.slice(0, 16)}… is enrolled by another user`);
  const { certificate, cert } = certifyDevice(input.orgRoot, input.publicKey, input.who, input.now, input.days);
  if (existing === undefined) {
    await tx.run(
      'INSERT INTO devices (id, owner, name, public_key, certificate, not_before, not_after, enrolled_at, revoked_at, revoked_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)',
      [id, input.who.subject, input.name, toBase64(input.publicKey), certificate, cert.notBefore, cert.notAfter, input.now],
    );
  } else {
    await tx.run('UPDATE devices SET name = ?, certificate = ?, not_before = ?, not_after = ? WHERE id = ?', [input.name, certificate, cert.notBefore, cert.notAfter, id]);
  }
  return { device: (await findDevice(tx, id))!, renewed: existing !== undefined };
}

export async function revokeDevice(tx: Queryable, id: string, by: string, now: number): Promise<Device> {
  await tx.lock(`device:${id}`);
  const changed = await tx.run('UPDATE devices SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL', [now, by, id]);
  if (changed.changes === 0) throw conflict(`device ${id.slice(0, 16)}… is already revoked`);
  return (await findDevice(tx, id))!;
}

/**
 * Where a device key stands with the service, for ingest and live checkpoints: a certificate
 * says nothing of revocation, so the service asks its own list before it trusts a device.
 */
export async function deviceStanding(db: Queryable, id: string): Promise<'enrolled' | 'revoked' | 'unknown'> {
  const row = await db.get<{ revoked_at: number | string | null }>('SELECT revoked_at FROM devices WHERE id = ?', [id]);
  return row === undefined ? 'unknown' : row.revoked_at === null ? 'enrolled' : 'revoked';
}
