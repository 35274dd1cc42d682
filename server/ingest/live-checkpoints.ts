/**
 * Live checkpoints: while a session runs, the client streams its signed checkpoints and the
 * service cosigns each one that extends the chain it already holds. What the service cosigned
 * left the device before the session ended, so a later holder of the device key cannot pass off
 * a different past: at ingest, the bundle must contain every checkpoint cosigned here.
 *
 * Consistency, checked for each new checkpoint against the last one held (docs/bundle-format.md
 * §6.2.4): signed by the session key the device certified at session start; same origin; `prev`
 * is the SHA-256 of the previous note's signed text (of the session key certificate for the
 * first); the size never shrinks; the time never goes back; nothing follows the seal. The format
 * has no Merkle consistency proof between two checkpoints (RFC 9162 §2.1.4): the hash chain ties
 * each checkpoint to the one before, and the full tree is checked against every root at ingest.
 *
 * The cosignature is a further C2SP signed-note signature line by the service key, under the
 * name `custody-service`, over the same signed text.
 */
import { createHash } from 'node:crypto';
import { SERVICE_NOTE_KEY_NAME } from '../../shared/api/ingest.ts';
import { equalBytes, fromBase64, toBase64 } from '../../shared/bundle/bytes.ts';
import { keyIdOf, nobleSuite, type Ed25519Signer } from '../../shared/bundle/crypto.ts';
import { openEnvelope, verifyEnvelope } from '../../shared/bundle/dsse.ts';
import { FormatError } from '../../shared/bundle/errors.ts';
import {
  DEVICE_CERT_ENTRY,
  DEVICE_CERT_PAYLOAD_TYPE,
  DeviceCertSchema,
  SESSION_KEY_ENTRY,
  SESSION_KEY_PAYLOAD_TYPE,
  SessionKeyCertSchema,
  type TrustRoot,
} from '../../shared/bundle/manifest.ts';
import { parseCheckpoint, parseNote, signNote, verifyNoteSignature } from '../../shared/bundle/note.ts';
import type { Queryable } from '../db/database.ts';
import type { Migration } from '../db/migrate.ts';
import { badRequest, conflict, forbidden } from '../http/errors.ts';

export const LIVE_MIGRATIONS: readonly Migration[] = [
  {
    version: 500,
    name: 'ingest: live sessions and their cosigned checkpoints',
    up: `CREATE TABLE live_sessions (
      session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, device_key_id TEXT NOT NULL, session_key_id TEXT NOT NULL,
      key_name TEXT NOT NULL, origin TEXT NOT NULL, public_key TEXT NOT NULL, cert_sha256 TEXT NOT NULL, started_at BIGINT NOT NULL);
    CREATE TABLE live_checkpoints (
      session_id TEXT NOT NULL, idx INTEGER NOT NULL, size BIGINT NOT NULL, root TEXT NOT NULL, time BIGINT NOT NULL,
      kind TEXT NOT NULL, signed_text TEXT NOT NULL, cosigned TEXT NOT NULL, received_at BIGINT NOT NULL,
      PRIMARY KEY (session_id, idx))`,
  },
];

const sha256Hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

export interface LiveSession {
  readonly sessionId: string;
  readonly owner: string;
  readonly deviceKeyId: string;
  readonly sessionKeyId: string;
  readonly keyName: string;
  readonly origin: string;
  readonly publicKey: Uint8Array;
  /** SHA-256 (hex) of the exact bytes of keys/session-key.dsse.json. */
  readonly certSha256: string;
}

export interface HeldCheckpoint {
  readonly index: number;
  readonly size: number;
  readonly root: string;
  readonly time: number;
  readonly kind: string;
  readonly signedText: string;
  readonly cosigned: string;
}

interface LiveRow {
  session_id: string;
  owner: string;
  device_key_id: string;
  session_key_id: string;
  key_name: string;
  origin: string;
  public_key: string;
  cert_sha256: string;
}

export async function findLiveSession(db: Queryable, sessionId: string): Promise<LiveSession | undefined> {
  const row = await db.get<LiveRow>('SELECT * FROM live_sessions WHERE session_id = ?', [sessionId]);
  if (row === undefined) return undefined;
  return {
    sessionId: row.session_id,
    owner: row.owner,
    deviceKeyId: row.device_key_id,
    sessionKeyId: row.session_key_id,
    keyName: row.key_name,
    origin: row.origin,
    publicKey: fromBase64(row.public_key)!,
    certSha256: row.cert_sha256,
  };
}

export async function heldCheckpoints(db: Queryable, sessionId: string): Promise<HeldCheckpoint[]> {
  const rows = await db.all<{ idx: number | string; size: number | string; root: string; time: number | string; kind: string; signed_text: string; cosigned: string }>(
    'SELECT idx, size, root, time, kind, signed_text, cosigned FROM live_checkpoints WHERE session_id = ? ORDER BY idx',
    [sessionId],
  );
  return rows.map((r) => ({ index: Number(r.idx), size: Number(r.size), root: r.root, time: Number(r.time), kind: r.kind, signedText: r.signed_text, cosigned: r.cosigned }));
}

/**
 * Is the device key one the service knows? Listed in the trust root (enrolled), or certified by
 * an org root of the trust root with a certificate valid now.
 */
function checkDevice(trustRoot: TrustRoot, devicePublicKey: Uint8Array, deviceCert: Uint8Array | undefined, now: number): void {
  const deviceKeyId = keyIdOf(nobleSuite, devicePublicKey);
  if (trustRoot.keys.some((k) => k.role === 'device' && k.keyId === deviceKeyId)) return;
  if (deviceCert === undefined) throw forbidden(`device key ${deviceKeyId.slice(0, 16)}… is not enrolled, and no device certificate was sent`);
  let opened;
  try {
    opened = openEnvelope(deviceCert, DEVICE_CERT_ENTRY, DEVICE_CERT_PAYLOAD_TYPE);
  } catch (error) {
    throw badRequest(error instanceof FormatError ? error.message : 'the device certificate cannot be read');
  }
  const cert = DeviceCertSchema.safeParse(opened.body);
  if (!cert.success) throw badRequest(`${DEVICE_CERT_ENTRY} is not a device certificate: ${cert.error.issues[0]?.message ?? 'invalid'}`);
  const issuer = trustRoot.keys.find((k) => k.role === 'org-root' && k.keyId === cert.data.issuerKeyId);
  const issuerKey = issuer === undefined ? undefined : fromBase64(issuer.publicKey);
  if (issuerKey === undefined || !verifyEnvelope(nobleSuite, opened, issuerKey)) throw forbidden('the device certificate is not signed by this organisation\'s root');
  if (cert.data.deviceKeyId !== deviceKeyId) throw forbidden('the device certificate is for another device key than the one that certified the session key');
  if (now < cert.data.notBefore || now > cert.data.notAfter) throw forbidden('the device certificate is not valid now');
}

/**
 * `POST /v1/sessions/:id`: the session key certificate the device signed at session start.
 * The same certificate again is accepted (a client retrying); another one is refused.
 */
export async function startLiveSession(
  tx: Queryable,
  input: { sessionId: string; owner: string; certBytes: Uint8Array; deviceCertBytes: Uint8Array | undefined; trustRoot: TrustRoot; now: number },
): Promise<{ session: LiveSession; created: boolean; held: number }> {
  let opened;
  try {
    opened = openEnvelope(input.certBytes, SESSION_KEY_ENTRY, SESSION_KEY_PAYLOAD_TYPE);
  } catch (error) {
    throw badRequest(error instanceof FormatError ? error.message : 'the session key certificate cannot be read');
  }
  const cert = SessionKeyCertSchema.safeParse(opened.body);
  if (!cert.success) throw badRequest(`${SESSION_KEY_ENTRY} field ${cert.error.issues[0]?.path.join('.') ?? ''}: ${cert.error.issues[0]?.message ?? 'invalid'}`);
  if (cert.data.sessionId !== input.sessionId) throw badRequest(`the session key certificate is for session ${cert.data.sessionId}, not ${input.sessionId}`);
  const devicePublicKey = fromBase64(cert.data.devicePublicKey);
  const publicKey = fromBase64(cert.data.publicKey);
  if (devicePublicKey?.length !== 32 || publicKey?.length !== 32) throw badRequest('the session key certificate does not hold 32-byte Ed25519 keys');
  if (!verifyEnvelope(nobleSuite, opened, devicePublicKey)) throw forbidden('the session key certificate is not signed by the device key it names');

  await tx.lock(`live-session:${input.sessionId}`);
  const certSha256 = sha256Hex(input.certBytes);
  const existing = await findLiveSession(tx, input.sessionId);
  if (existing !== undefined) {
    if (existing.owner !== input.owner) throw forbidden(`session ${input.sessionId} belongs to someone else`);
    if (existing.certSha256 !== certSha256) throw conflict(`session ${input.sessionId} was started with another session key certificate`);
    // The same certificate again (a client retrying): its device was checked the first time.
    const held = await tx.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM live_checkpoints WHERE session_id = ?', [input.sessionId]);
    return { session: existing, created: false, held: Number(held?.n ?? 0) };
  }
  checkDevice(input.trustRoot, devicePublicKey, input.deviceCertBytes, input.now);
  const session: LiveSession = {
    sessionId: input.sessionId,
    owner: input.owner,
    deviceKeyId: keyIdOf(nobleSuite, devicePublicKey),
    sessionKeyId: keyIdOf(nobleSuite, publicKey),
    keyName: cert.data.keyName,
    origin: cert.data.origin,
    publicKey,
    certSha256,
  };
  await tx.run(
    'INSERT INTO live_sessions (session_id, owner, device_key_id, session_key_id, key_name, origin, public_key, cert_sha256, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [session.sessionId, session.owner, session.deviceKeyId, session.sessionKeyId, session.keyName, session.origin, toBase64(publicKey), certSha256, input.now],
  );
  return { session, created: true, held: 0 };
}

/** The note with the service's signature line added. */
export function cosignNote(note: string, signedText: string, service: Ed25519Signer): string {
  const signed = signNote(nobleSuite, signedText, SERVICE_NOTE_KEY_NAME, service);
  return note + signed.slice(signedText.length + 1);
}

/**
 * Checks one streamed checkpoint against the chain held for its session, cosigns and keeps it.
 * A checkpoint already held is answered again (idempotent retries).
 */
export async function acceptCheckpoint(
  tx: Queryable,
  input: { sessionId: string; caller: string; note: string; service: Ed25519Signer; now: number },
): Promise<{ checkpoint: HeldCheckpoint; created: boolean }> {
  await tx.lock(`live-session:${input.sessionId}`);
  const session = await findLiveSession(tx, input.sessionId);
  if (session === undefined) throw conflict(`session ${input.sessionId} was not started: POST /v1/sessions/${input.sessionId} with its session key certificate first`);
  if (session.owner !== input.caller) throw forbidden(`session ${input.sessionId} belongs to someone else`);
  const noteText = input.note.endsWith('\n') ? input.note : `${input.note}\n`;
  const where = { entry: 'checkpoint', line: 1, label: 'note' };
  let body;
  let signedText: string;
  try {
    const note = parseNote(noteText, where);
    signedText = note.text;
    if (!verifyNoteSignature(nobleSuite, note, session.keyName, session.publicKey)) throw forbidden(`the checkpoint has no valid signature by session key ${session.keyName}`);
    body = parseCheckpoint(note.text, where);
  } catch (error) {
    if (error instanceof FormatError) throw badRequest(error.message);
    throw error;
  }
  const held = await heldCheckpoints(tx, input.sessionId);
  const same = held.find((h) => h.signedText === signedText);
  if (same !== undefined) return { checkpoint: same, created: false };
  const last = held.at(-1);
  if (body.origin !== session.origin) throw conflict(`the checkpoint is for ${body.origin}, not this session (${session.origin})`);
  const expectedPrev = last === undefined ? session.certSha256 : sha256Hex(last.signedText);
  if (!equalBytes(body.prev, Buffer.from(expectedPrev, 'hex'))) {
    throw conflict(
      last === undefined
        ? 'the checkpoint does not chain to the session key certificate: send the session\'s checkpoints from the first'
        : `the checkpoint does not follow checkpoint ${last.index}, the last the service holds: a checkpoint was skipped, or the chain forked`,
    );
  }
  if (last !== undefined) {
    if (last.kind === 'seal') throw conflict(`the session was sealed at checkpoint ${last.index}; nothing follows a seal`);
    if (body.size < last.size) throw conflict(`the checkpoint attests ${body.size} lines, fewer than checkpoint ${last.index} (${last.size}): the tree never shrinks`);
    if (body.time < last.time) throw conflict(`the checkpoint's time ${body.time} is before checkpoint ${last.index}'s (${last.time})`);
  }
  const checkpoint: HeldCheckpoint = {
    index: (last?.index ?? 0) + 1,
    size: body.size,
    root: toBase64(body.root),
    time: body.time,
    kind: body.kind,
    signedText,
    cosigned: cosignNote(noteText, signedText, input.service),
  };
  await tx.run(
    'INSERT INTO live_checkpoints (session_id, idx, size, root, time, kind, signed_text, cosigned, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [input.sessionId, checkpoint.index, checkpoint.size, checkpoint.root, checkpoint.time, checkpoint.kind, checkpoint.signedText, checkpoint.cosigned, input.now],
  );
  return { checkpoint, created: true };
}
