/**
 * Ingest of one finished upload: verify the whole bundle with the shared verifier against the
 * trust root, check it extends what the service cosigned during the session, countersign its
 * manifest, store it write-once, index it, and sign a receipt. A bundle that fails any check is
 * quarantined (stored under `quarantine/`, never deleted) with the reason and the verifier's
 * report, an alert is raised (audit entry, warn log), and the client is told why.
 *
 * What is stored: the uploaded bundle with `manifest.dsse.json` replaced by the same envelope plus
 * the service's DSSE signature over the same PAE (countersignEnvelope), spliced into the zip so
 * that every other entry keeps the bytes it was uploaded with (zip-splice.ts). The manifest is not among
 * its own subjects, and the verifier accepts an envelope that holds a valid device signature
 * whatever else it holds, so `custody verify` reads the stored object offline exactly as it read
 * the upload; the service's signature is inside the one file an auditor exports. The receipt
 * names the SHA-256 of both the upload and the stored object.
 *
 * Idempotent: the same bundle again gets the same receipt. Another bundle for a session already
 * stored is refused (409) and quarantined.
 */
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { receiptPayload, RECEIPT_PAYLOAD_TYPE, type IngestRefusal, type IngestResult, type Receipt } from '../../shared/api/ingest.ts';
import { nobleSuite } from '../../shared/bundle/crypto.ts';
import { countersignEnvelope, openEnvelope, serializeEnvelope, signEnvelope } from '../../shared/bundle/dsse.ts';
import { MANIFEST_ENTRY, MANIFEST_PAYLOAD_TYPE, SESSION_KEY_ENTRY } from '../../shared/bundle/manifest.ts';
import { NOTES_ENTRY, splitNotes } from '../../shared/bundle/note.ts';
import { verifyBundle, verifyEntries, type VerifyReport } from '../../shared/bundle/verifier.ts';
import { readZip } from '../../shared/bundle/zip.ts';
import { findStoredSession, insertQuarantine, insertStoredSession, type ArchivedSession } from '../archive/archive-store.ts';
import { SessionTextCollector } from '../archive/session-text.ts';
import { ObjectExistsError, type BlobStore } from '../blobs/blob-store.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { ServiceKeys } from '../keys/service-keys.ts';
import { findLiveSession, heldCheckpoints } from './live-checkpoints.ts';
import { deferredVerifySuite, nodeSuite } from '../../node-adapters/crypto.ts';
import { nodeZipCodec } from '../../node-adapters/zip.ts';
import { replaceZipEntry } from './zip-splice.ts';
import type { DeviceStanding, TrustSource } from './trust.ts';

const DAY = 86_400_000;


export interface IngestDeps {
  readonly db: Database;
  readonly keys: ServiceKeys;
  readonly blobs: BlobStore;
  readonly trustRoot: TrustSource;
  /** Enrollment's word on a device key; without it, revocation is not checked. */
  readonly deviceStanding?: DeviceStanding | undefined;
  readonly now: () => number;
  readonly retentionDays: number;
  /**
   * Most a bundle may inflate to (limits.recordingBytes): ingest holds the bundle, its inflated
   * entries and the search text in memory at once. Over it, the bundle is quarantined.
   */
  readonly maxInflatedBytes: number;
  readonly log: FastifyBaseLogger;
  /** Raised once per newly quarantined bundle (the webhook); returns at once. */
  readonly alert?: ((event: QuarantineAlert) => void) | undefined;
}

/** What the quarantine alert says: where to look, never what the bundle holds. */
export interface QuarantineAlert {
  readonly type: 'ingest.quarantine';
  readonly sessionId: string;
  /** The uploader's subject. */
  readonly owner: string;
  readonly reason: string;
  readonly status: 403 | 409 | 422;
  readonly quarantineKey: string;
  readonly sha256: string;
  readonly at: number;
}

/** Appends the audit entry of an ingest step within its transaction (the uploader's, or the service's on recovery). */
export type IngestAudit = (tx: Queryable, action: string, target: string, details: Record<string, unknown>) => Promise<unknown>;

export interface UploadedBundle {
  readonly bytes: Uint8Array;
  readonly sessionId: string;
  /** What the client declared in the upload's metadata. */
  readonly declaredSha256: string;
  /** The uploader's subject. */
  readonly uploader: string;
}

export type IngestOutcome =
  | { readonly kind: 'stored'; readonly status: 200; readonly result: IngestResult; readonly fresh: boolean }
  | { readonly kind: 'refused'; readonly status: 403 | 409 | 422; readonly body: IngestRefusal };

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Statuses a crash-recovered bundle may carry and still be archived (as `recovered`): an honest tail the seal never covered. */
const RECOVERY_STATUSES = new Set(['unsealed-tail', 'no-seal', 'torn-line', 'info']);

function verdictOf(report: VerifyReport): 'intact' | 'recovered' | undefined {
  if (!report.trusted) return undefined;
  if (report.status === 'intact') return 'intact';
  if (report.session?.recovered != null && report.findings.every((f) => RECOVERY_STATUSES.has(f.status))) return 'recovered';
  return undefined;
}

function resultOf(session: ArchivedSession): IngestResult {
  return { status: 'stored', receipt: session.receipt, envelope: JSON.parse(session.envelope) as IngestResult['envelope'] };
}

/**
 * One key per session, from the session id alone: the store's write-once rule then also means one
 * recording per session, whatever two racing uploads claim. The prefix spreads keys over 256
 * folders (S3 partitions, directory sizes).
 */
function storageKey(sessionId: string): string {
  return `recordings/${sha256Hex(new TextEncoder().encode(sessionId)).slice(0, 2)}/${sessionId}.custody`;
}

/** Signed text of each note in checkpoints.notes (their signature lines dropped). */
function bundleNoteTexts(notes: Uint8Array | undefined): Set<string> {
  const texts = new Set<string>();
  if (notes === undefined) return texts;
  for (const { note } of splitNotes(new TextDecoder().decode(notes))) {
    const split = note.lastIndexOf('\n\n');
    texts.add(split < 0 ? note : note.slice(0, split + 1));
  }
  return texts;
}

export async function ingestBundle(deps: IngestDeps, upload: UploadedBundle, audit: IngestAudit): Promise<IngestOutcome> {
  const { bytes, sessionId, uploader } = upload;
  const sha256 = sha256Hex(bytes);

  const quarantine = async (status: 403 | 409 | 422, reason: string, report?: VerifyReport): Promise<IngestOutcome> => {
    const key = `quarantine/${sessionId}/${sha256}.custody`;
    const reportJson = JSON.stringify({ reason, sessionId, uploader, sha256, size: bytes.length, at: deps.now(), report: report ?? null }, null, 2);
    const reportBytes = new TextEncoder().encode(reportJson);
    // Quarantined objects are kept for good: under legal hold, so that the store refuses to delete them too.
    for (const [objectKey, data, contentType] of [
      [key, bytes, 'application/vnd.custody.bundle+zip'],
      [`quarantine/${sessionId}/${sha256}.report.json`, reportBytes, 'application/json'],
    ] as const) {
      try {
        await deps.blobs.put(objectKey, data, { sha256: sha256Hex(data), contentType });
      } catch (error) {
        // The same bundle quarantined before: the first copy and its first report stay.
        if (!(error instanceof ObjectExistsError)) throw error;
      }
      await deps.blobs.setLegalHold(objectKey, true);
    }
    const fresh = await deps.db.transaction(async (tx) => {
      const isNew = await insertQuarantine(tx, { sessionId, uploader, sha256, size: bytes.length, storageKey: key, reason, report: reportJson, at: deps.now() });
      if (isNew) await audit(tx, 'ingest.quarantine', sessionId, { reason, sha256, storageKey: key, status: report?.status ?? null });
      return isNew;
    });
    // The alert: operators watch warn lines; the audit entry is the durable record.
    if (fresh) deps.log.warn({ sessionId, uploader, sha256, storageKey: key, reason }, 'ingest: bundle quarantined');
    if (fresh) deps.alert?.({ type: 'ingest.quarantine', sessionId, owner: uploader, reason, status, quarantineKey: key, sha256, at: deps.now() });
    const findings = report?.findings.filter((f) => f.status !== 'info').slice(0, 20).map((f) => ({ status: f.status, message: f.message }));
    return { kind: 'refused', status, body: { error: status === 409 ? 'conflict' : status === 403 ? 'forbidden' : 'quarantined', message: reason, quarantineKey: key, ...(findings === undefined ? {} : { findings }) } };
  };

  if (sha256 !== upload.declaredSha256) {
    return quarantine(422, `the upload's SHA-256 is ${sha256}, but the client declared ${upload.declaredSha256}: the bundle changed on the way`);
  }
  const stored = await findStoredSession(deps.db, sessionId);
  if (stored !== undefined) {
    if (stored.receipt.uploadedSha256 === sha256) return { kind: 'stored', status: 200, result: resultOf(stored), fresh: false };
    return quarantine(409, `session ${sessionId} is already stored from another bundle (SHA-256 ${stored.receipt.uploadedSha256}); a stored recording is never replaced`);
  }

  const trustRoot = await deps.trustRoot(deps.db);
  // One read of the zip and one parse of the recording serve verification, the checks below,
  // the splice and the search index: the verifier hands each event it parses to the collector.
  const zipLimits = { maxTotalBytes: deps.maxInflatedBytes, maxEntryBytes: deps.maxInflatedBytes };
  const verifyOptions = { trustRoot, suite: nodeSuite, zipCodec: nodeZipCodec, zipLimits };
  let entries: Map<string, Uint8Array>;
  try {
    entries = readZip(bytes, zipLimits, nodeZipCodec);
  } catch {
    // Not a zip the service reads: the verifier's report says why.
    const unread = verifyBundle(bytes, verifyOptions);
    return quarantine(422, `the bundle failed verification: ${unread.summary}`, unread);
  }
  // Signatures are checked on the thread pool while this thread hashes and parses; should any
  // fail, the strict suite verifies again for the report that names it (deferredVerifySuite).
  const deferred = deferredVerifySuite();
  let collector = new SessionTextCollector();
  let report = verifyEntries(entries, { ...verifyOptions, suite: deferred.suite, onEvent: collector.onEvent });
  if (!(await deferred.allValid())) {
    collector = new SessionTextCollector();
    report = verifyEntries(entries, { ...verifyOptions, onEvent: collector.onEvent });
  }
  const verdict = verdictOf(report);
  if (verdict === undefined) {
    const why = report.intact && !report.trusted ? `the bundle is intact but its signer is not trusted: ${report.summary}` : `the bundle failed verification: ${report.summary}`;
    return quarantine(422, why, report);
  }
  if (report.signer !== undefined && (await deps.deviceStanding?.(deps.db, report.signer.deviceKeyId)) === 'revoked') {
    return quarantine(403, `the bundle was signed by device key ${report.signer.deviceKeyId.slice(0, 16)}…, which was revoked`, report);
  }
  // A device certificate names its user: only they may upload what the device recorded, so that
  // the archive's owner of a session is who recorded it.
  const recordedBy = report.signer?.subject?.sub;
  if (recordedBy !== undefined && recordedBy !== uploader) {
    return quarantine(403, `the bundle was recorded on a device enrolled to ${recordedBy}; only they may upload it`, report);
  }
  if (report.session?.sessionId !== sessionId) {
    return quarantine(422, `the bundle records session ${report.session?.sessionId ?? '(none)'}, but was uploaded as ${sessionId}`, report);
  }

  const live = await findLiveSession(deps.db, sessionId);
  let cosignedCheckpoints = 0;
  if (live !== undefined) {
    if (live.owner !== uploader) return { kind: 'refused', status: 403, body: { error: 'forbidden', message: `session ${sessionId} was started by someone else` } };
    const held = await heldCheckpoints(deps.db, sessionId);
    const certSha = sha256Hex(entries.get(SESSION_KEY_ENTRY)!);
    const inBundle = bundleNoteTexts(entries.get(NOTES_ENTRY));
    const missing = held.find((h) => !inBundle.has(h.signedText));
    if (certSha !== live.certSha256 || missing !== undefined) {
      const detail = certSha !== live.certSha256 ? 'its session key certificate is not the one the session started with' : `checkpoint ${missing!.index} (size ${missing!.size}) is not in it`;
      return quarantine(422, `the bundle contradicts checkpoints the service cosigned during the session: ${detail}`, report);
    }
    cosignedCheckpoints = held.length;
  }

  // Countersign the manifest and put it in place of the device-signed one; every other entry's
  // bytes are copied as uploaded.
  const manifest = openEnvelope(entries.get(MANIFEST_ENTRY)!, MANIFEST_ENTRY, MANIFEST_PAYLOAD_TYPE);
  const cosigned = replaceZipEntry(bytes, MANIFEST_ENTRY, serializeEnvelope(countersignEnvelope(nobleSuite, manifest.envelope, deps.keys.service)));
  const storedSha = sha256Hex(cosigned);
  const session = report.session;
  const key = storageKey(sessionId);
  const storedAt = deps.now();
  const retainUntil = storedAt + deps.retentionDays * DAY;
  const putting = deps.blobs.put(key, cosigned, { sha256: storedSha, retainUntil, contentType: 'application/vnd.custody.bundle+zip' });
  // The search text is built while the store writes and syncs.
  const text = collector.chunks();
  try {
    await putting;
  } catch (error) {
    if (!(error instanceof ObjectExistsError)) throw error;
    // A previous attempt stored it and failed before the index row: the same bytes are fine.
    // Other bytes: another bundle of this session got there first.
    const head = await deps.blobs.head(key);
    if (head?.sha256 !== storedSha) return quarantine(409, `session ${sessionId} is already stored from another bundle; a stored recording is never replaced`, report);
  }

  const receipt: Receipt = {
    formatVersion: 1,
    sessionId,
    sha256: storedSha,
    size: cosigned.length,
    uploadedSha256: sha256,
    storedAt,
    storageKey: key,
    tree: { size: session.tree.size, root: session.tree.root },
    verdict,
    cosignedCheckpoints,
    serviceKeyId: deps.keys.service.keyId,
  };
  const envelope = signEnvelope(nobleSuite, RECEIPT_PAYLOAD_TYPE, receiptPayload(receipt), deps.keys.service);
  const outcome = await deps.db.transaction(async (tx) => {
    await tx.lock(`archive-session:${sessionId}`);
    const raced = await findStoredSession(tx, sessionId);
    if (raced !== undefined) {
      if (raced.receipt.uploadedSha256 === sha256) return { kind: 'stored', status: 200, result: resultOf(raced), fresh: false } as const;
      return undefined;
    }
    await insertStoredSession(tx, {
      sessionId,
      owner: uploader,
      target: session.metadata['target'] ?? null,
      grantId: session.metadata['grant'] ?? session.metadata['grantId'] ?? null,
      startedAt: session.startedAt,
      endedAt: session.endedAt,
      receipt,
      envelope: JSON.stringify(envelope),
      retainUntil,
      text,
    });
    await audit(tx, 'archive.store', sessionId, { sha256: storedSha, uploadedSha256: sha256, size: cosigned.length, storageKey: key, verdict, retainUntil });
    return { kind: 'stored', status: 200, result: { status: 'stored', receipt, envelope }, fresh: true } as const;
  });
  return outcome ?? quarantine(409, `session ${sessionId} was stored from another bundle meanwhile; a stored recording is never replaced`, report);
}
