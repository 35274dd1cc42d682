/**
 * The one verifier: used by `custody verify`, the app, the central service at
 * ingest and the offline viewer. Pure: bytes in, a report out. It never throws
 * on bad input; every problem becomes a finding with a location.
 *
 * docs/bundle-format.md §7 specifies the checks in the order made here.
 */
import { CAST_ENTRY, MAX_CAST_LINE_BYTES, parseEvent, parseHeader, type CastEvent, type CastHeader } from './asciicast.ts';
import { decodeUtf8Strict, equalBytes, fromBase64, toBase64, toHex, utf8 } from './bytes.ts';
import { keyIdOf, nobleSuite, type CryptoSuite } from './crypto.ts';
import { openEnvelope, verifyEnvelope, type OpenedEnvelope } from './dsse.ts';
import { FormatError, type FormatErrorLocation } from './errors.ts';
import {
  DEVICE_CERT_ENTRY,
  DEVICE_CERT_PAYLOAD_TYPE,
  DeviceCertSchema,
  FORMAT_VERSION,
  MANIFEST_ENTRY,
  MANIFEST_PAYLOAD_TYPE,
  SESSION_KEY_ENTRY,
  SESSION_KEY_PAYLOAD_TYPE,
  SessionKeyCertSchema,
  StatementSchema,
  type DeviceCert,
  type SessionKeyCert,
  type SessionPredicate,
  type TrustRoot,
} from './manifest.ts';
import { MerkleAccumulator } from './merkle.ts';
import { NOTES_ENTRY, parseCheckpoint, parseNote, splitNotes, verifyNoteSignature, type CheckpointBody } from './note.ts';
import { castLines } from './reader.ts';
import { readZip, type ZipCodec, type ZipLimits } from './zip.ts';

/** Overall verdicts, most specific first (the report's status is that of the first finding in this order). */
export const STATUS_PRECEDENCE = [
  'unknown-version',
  'bad-signature',
  'tampered',
  'truncated',
  'torn-line',
  // Below the specific diagnoses: an edited line is usually also unparsable and changes the
  // file digest, but "tampered in events [a, b)" is the answer that helps the auditor.
  'malformed',
  'digest-mismatch',
  'unsealed-tail',
  'no-seal',
  'untrusted-key',
  'intact',
] as const;
export type VerifyStatus = (typeof STATUS_PRECEDENCE)[number];

export interface FindingLocation extends FormatErrorLocation {
  /** Event (line) index range [from, to), 0-based; line 0 is the header. */
  readonly events?: readonly [number, number];
  /** 1-based index of the checkpoint in checkpoints.notes. */
  readonly checkpoint?: number;
  /** For truncation: lines a checkpoint attests and lines present. */
  readonly attested?: number;
  readonly present?: number;
}

export interface Finding {
  readonly status: Exclude<VerifyStatus, 'intact'> | 'info';
  readonly message: string;
  readonly location: FindingLocation;
}

export interface VerifyReport {
  readonly status: VerifyStatus;
  /** The device key is vouched for by the trust root (directly, or by an org root's device certificate). */
  readonly trusted: boolean;
  /** intact, trusted or not: every byte is covered by valid signatures and nothing is missing. */
  readonly intact: boolean;
  readonly summary: string;
  readonly findings: readonly Finding[];
  readonly session?: SessionPredicate;
  readonly header?: CastHeader;
  readonly signer?: {
    readonly deviceKeyId: string;
    readonly sessionKeyId: string;
    readonly subject?: DeviceCert['subject'];
    readonly trustedVia?: 'device-key' | 'org-root';
    readonly orgKeyId?: string;
  };
  /**
   * The central service's countersignature over the manifest (added at ingest), checked against
   * the trust root's `service` keys. Absent when the bundle carries none the trust root lists.
   */
  readonly countersignedBy?: { readonly keyId: string; readonly name?: string };
  readonly tree?: {
    readonly lines: number;
    readonly checkpoints: number;
    /** Lines covered by a valid checkpoint whose root matched. */
    readonly verifiedSize: number;
    readonly sealed: boolean;
  };
}

export interface VerifyOptions {
  readonly trustRoot?: TrustRoot;
  readonly suite?: CryptoSuite;
  readonly zipLimits?: Partial<ZipLimits>;
  /** Native inflate and CRC-32 where the platform has them (Node: node-adapters/zip.ts). */
  readonly zipCodec?: ZipCodec;
  /**
   * Called with each event as the verifier parses it (the seal's range, in order), so that a
   * caller who needs the events too (the service's search index) does not parse the recording a
   * second time. Only a report that says so makes them trustworthy: a later line may fail.
   */
  readonly onEvent?: (event: CastEvent) => void;
}

/** Bytes of session.cast decoded at a time (see checkRecording). */
const TEXT_BLOCK_BYTES = 1024 * 1024;

const KNOWN_ENTRIES = new Set([MANIFEST_ENTRY, CAST_ENTRY, NOTES_ENTRY, SESSION_KEY_ENTRY, DEVICE_CERT_ENTRY]);

class Findings {
  readonly list: Finding[] = [];
  add(status: Finding['status'], message: string, location: FindingLocation = {}): void {
    this.list.push({ status, message, location });
  }
  fromError(error: unknown, fallback: FindingLocation = {}): void {
    if (error instanceof FormatError) {
      this.add(error.code === 'unknown-format-version' ? 'unknown-version' : 'malformed', error.message, {
        ...fallback,
        ...error.location,
      });
    } else {
      this.add('malformed', `${fallback.entry ?? 'bundle'}: ${error instanceof Error ? error.message : String(error)}`, fallback);
    }
  }
  has(status: Finding['status']): boolean {
    return this.list.some((f) => f.status === status);
  }
}

/** An ISO time for messages; never throws, whatever the number. */
export function isoTime(millis: number): string {
  const date = new Date(millis);
  return Number.isNaN(date.getTime()) ? `(invalid time ${millis})` : date.toISOString();
}

function statusOf(findings: readonly Finding[]): VerifyStatus {
  for (const status of STATUS_PRECEDENCE) if (findings.some((f) => f.status === status)) return status;
  return 'intact';
}

function summarize(status: VerifyStatus, findings: readonly Finding[], trusted: boolean): string {
  if (status === 'intact') return trusted ? 'intact and trusted' : 'intact';
  const first = findings.find((f) => f.status === status);
  return first?.message ?? status;
}

interface Signed<T> {
  readonly opened: OpenedEnvelope;
  readonly body: T;
}

function versionOf(body: unknown): unknown {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  if ('predicate' in record) {
    const predicate = record['predicate'];
    return typeof predicate === 'object' && predicate !== null ? (predicate as Record<string, unknown>)['formatVersion'] : undefined;
  }
  return record['formatVersion'];
}

/** Opens an envelope and checks its body against a schema; records findings and returns undefined on failure. */
function openSigned<T>(
  findings: Findings,
  bytes: Uint8Array,
  entry: string,
  payloadType: string,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } } },
): Signed<T> | undefined {
  let opened: OpenedEnvelope;
  try {
    opened = openEnvelope(bytes, entry, payloadType);
  } catch (error) {
    findings.fromError(error, { entry });
    return undefined;
  }
  const version = versionOf(opened.body);
  if (version !== FORMAT_VERSION) {
    findings.add('unknown-version', `${entry} declares format version ${JSON.stringify(version)}; this verifier reads version ${FORMAT_VERSION}`, {
      entry,
      field: 'formatVersion',
    });
    return undefined;
  }
  const parsed = schema.safeParse(opened.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || '(payload)';
    findings.add('malformed', `${entry} field ${field}: ${issue?.message ?? 'invalid'}`, { entry, field });
    return undefined;
  }
  return { opened, body: parsed.data };
}

function decodeKey(findings: Findings, text: string, entry: string, field: string): Uint8Array | undefined {
  const key = fromBase64(text);
  if (key?.length !== 32) {
    findings.add('malformed', `${entry} field ${field} is not a 32-byte Ed25519 public key`, { entry, field });
    return undefined;
  }
  return key;
}

interface UsableCheckpoint {
  readonly index: number; // 1-based
  readonly body: CheckpointBody;
}

/**
 * The chain hashes each note's signed text, not its signature lines, so that a
 * cosigner (the central service) can add its signature line without breaking it.
 */
function signedText(note: string): string {
  const split = note.lastIndexOf('\n\n');
  return split < 0 ? note : note.slice(0, split + 1);
}

/** §7.4: notes are parsed, signature-checked and chained. Returns the checkpoints that count. */
function checkNotes(
  suite: CryptoSuite,
  findings: Findings,
  notesBytes: Uint8Array,
  sessionKeyEntry: Uint8Array,
  cert: SessionKeyCert,
  sessionKey: Uint8Array,
): UsableCheckpoint[] {
  const text = decodeUtf8Strict(notesBytes);
  if (text === undefined) {
    findings.add('malformed', `${NOTES_ENTRY} is not valid UTF-8`, { entry: NOTES_ENTRY });
    return [];
  }
  let split: { note: string; line: number }[];
  try {
    split = splitNotes(text);
  } catch (error) {
    findings.fromError(error, { entry: NOTES_ENTRY });
    return [];
  }
  const usable: UsableCheckpoint[] = [];
  let prevHash = suite.sha256(sessionKeyEntry);
  let lastSize = 0;
  let sealSeen = 0;
  for (let i = 0; i < split.length; i++) {
    const { note: noteText, line } = split[i]!;
    const index = i + 1;
    const where = { entry: NOTES_ENTRY, line, label: `checkpoint ${index}` };
    const location = { entry: NOTES_ENTRY, line, checkpoint: index };
    let body: CheckpointBody;
    try {
      const note = parseNote(noteText, where);
      if (!verifyNoteSignature(suite, note, cert.keyName, sessionKey)) {
        findings.add('bad-signature', `${NOTES_ENTRY} checkpoint ${index} (line ${line}) has no valid signature by session key ${cert.keyName}`, location);
        prevHash = suite.sha256(utf8(signedText(noteText)));
        continue;
      }
      body = parseCheckpoint(note.text, where);
    } catch (error) {
      findings.fromError(error, location);
      prevHash = suite.sha256(utf8(signedText(noteText)));
      continue;
    }
    if (body.origin !== cert.origin) {
      findings.add('tampered', `${NOTES_ENTRY} checkpoint ${index} is for ${body.origin}, not this session (${cert.origin})`, location);
    } else if (!equalBytes(body.prev, prevHash)) {
      findings.add(
        'tampered',
        index === 1
          ? `${NOTES_ENTRY} checkpoint 1 is not chained to ${SESSION_KEY_ENTRY}: the first checkpoint was dropped or the session key was swapped`
          : `${NOTES_ENTRY} checkpoint ${index} does not follow checkpoint ${index - 1}: a checkpoint was dropped, inserted or reordered`,
        location,
      );
    } else if (body.size < lastSize) {
      findings.add('tampered', `${NOTES_ENTRY} checkpoint ${index} attests ${body.size} lines, fewer than checkpoint ${index - 1} (${lastSize})`, location);
    } else if (sealSeen > 0) {
      findings.add('tampered', `${NOTES_ENTRY} checkpoint ${index} comes after the seal (checkpoint ${sealSeen})`, location);
    } else {
      usable.push({ index, body });
      lastSize = body.size;
      if (body.kind === 'seal') sealSeen = index;
    }
    prevHash = suite.sha256(utf8(signedText(noteText)));
  }
  return usable;
}

/** §7.5: hash every line, compare roots at each checkpoint, parse every event. */
function checkRecording(
  suite: CryptoSuite,
  findings: Findings,
  cast: Uint8Array,
  checkpoints: readonly UsableCheckpoint[],
  onEvent: ((event: CastEvent) => void) | undefined,
): { lines: number; verifiedSize: number; header?: CastHeader; root: Uint8Array; lastCode?: string } {
  const acc = new MerkleAccumulator(suite);
  let next = 0;
  let verifiedSize = 0;
  let mismatch = false;
  let parseFailed = false;
  // Lines after a seal are reported as appended (tampered), not parsed as events.
  const last = checkpoints[checkpoints.length - 1];
  const sealSize = last?.body.kind === 'seal' ? last.body.size : Infinity;
  let header: CastHeader | undefined;
  let lastCode: string | undefined;
  const compareDue = (): void => {
    while (next < checkpoints.length && checkpoints[next]!.body.size === acc.size) {
      const cp = checkpoints[next]!;
      if (!mismatch) {
        if (equalBytes(acc.root(), cp.body.root)) {
          verifiedSize = cp.body.size;
        } else {
          mismatch = true;
          findings.add(
            'tampered',
            `${CAST_ENTRY} was changed in events [${verifiedSize}, ${cp.body.size}) (lines ${verifiedSize + 1}–${cp.body.size}): checkpoint ${cp.index} does not match`,
            { entry: CAST_ENTRY, events: [verifiedSize, cp.body.size], checkpoint: cp.index, line: verifiedSize + 1 },
          );
        }
      }
      next++;
    }
  };
  compareDue(); // a checkpoint of size 0 would cover the empty tree
  // Lines are decoded in blocks of whole lines (about TEXT_BLOCK_BYTES): one strict decode of a
  // block is much cheaper than one per line, and a long recording's text is never held whole.
  // Lines map one to one (UTF-8 never encodes "\n" inside a character). Only an invalid block
  // is decoded per line, to name the bad line.
  let blockText: string | undefined;
  /** Offset in `cast` just past the block's last "\n". */
  let blockEnd = 0;
  let textPos = 0;
  const lines = castLines(cast);
  let tornBytes = 0;
  for (;;) {
    const step = lines.next();
    if (step.done === true) {
      tornBytes = step.value.tornBytes;
      break;
    }
    const { index, bytes } = step.value;
    acc.appendLine(bytes);
    const start = bytes.byteOffset - cast.byteOffset;
    if (start >= blockEnd) {
      // The block ends at the last line end within reach, or at this line's own if it is longer.
      const reach = cast.lastIndexOf(0x0a, Math.min(cast.length, start + TEXT_BLOCK_BYTES) - 1);
      blockEnd = Math.max(reach, start + bytes.length) + 1;
      blockText = decodeUtf8Strict(cast.subarray(start, blockEnd));
      textPos = 0;
    }
    let text: string | undefined;
    if (blockText !== undefined) {
      const end = blockText.indexOf('\n', textPos);
      text = blockText.slice(textPos, end);
      textPos = end + 1;
    }
    if (!parseFailed && index < sealSize) {
      const lineNo = index + 1;
      try {
        if (bytes.length > MAX_CAST_LINE_BYTES) {
          throw new FormatError('line-too-long', `${CAST_ENTRY} line ${lineNo} is ${bytes.length} bytes, over the ${MAX_CAST_LINE_BYTES}-byte limit`, {
            entry: CAST_ENTRY,
            line: lineNo,
          });
        }
        text ??= decodeUtf8Strict(bytes);
        if (text === undefined) throw new FormatError('invalid-utf8', `${CAST_ENTRY} line ${lineNo} is not valid UTF-8`, { entry: CAST_ENTRY, line: lineNo });
        if (index === 0) header = parseHeader(text);
        else {
          if (lastCode === 'x') {
            throw new FormatError('invalid-field', `${CAST_ENTRY} line ${lineNo} follows the exit event`, { entry: CAST_ENTRY, line: lineNo });
          }
          const event = parseEvent(text, lineNo);
          lastCode = event.code;
          onEvent?.(event);
        }
      } catch (error) {
        // Only the first bad line is reported: after it, the recording cannot be read reliably.
        parseFailed = true;
        findings.fromError(error, { entry: CAST_ENTRY, line: lineNo });
      }
    }
    compareDue();
  }
  if (tornBytes > 0) {
    findings.add('torn-line', `${CAST_ENTRY} ends in a torn line of ${tornBytes} bytes without a newline (line ${acc.size + 1})`, {
      entry: CAST_ENTRY,
      line: acc.size + 1,
    });
  }
  if (acc.size === 0) findings.add('malformed', `${CAST_ENTRY} has no header line`, { entry: CAST_ENTRY, line: 1 });
  const result = { lines: acc.size, verifiedSize, root: acc.root() };
  return {
    ...result,
    ...(header === undefined ? {} : { header }),
    // The last event's code is only known when every line parsed.
    ...(lastCode === undefined || parseFailed ? {} : { lastCode }),
  };
}

/** §7.6: is the device key vouched for by the trust root? */
function checkTrust(
  suite: CryptoSuite,
  findings: Findings,
  entries: Map<string, Uint8Array>,
  devicePublicKey: Uint8Array,
  startedAt: number,
  trustRoot: TrustRoot | undefined,
): { trusted: boolean; via?: 'device-key' | 'org-root'; subject?: DeviceCert['subject']; orgKeyId?: string } {
  const deviceKeyId = keyIdOf(suite, devicePublicKey);
  const certBytes = entries.get(DEVICE_CERT_ENTRY);
  let deviceCert: Signed<DeviceCert> | undefined;
  if (certBytes !== undefined) {
    deviceCert = openSigned(findings, certBytes, DEVICE_CERT_ENTRY, DEVICE_CERT_PAYLOAD_TYPE, DeviceCertSchema);
    if (deviceCert !== undefined) {
      const certKey = fromBase64(deviceCert.body.devicePublicKey);
      if (certKey === undefined || !equalBytes(certKey, devicePublicKey) || deviceCert.body.deviceKeyId !== deviceKeyId) {
        findings.add('tampered', `${DEVICE_CERT_ENTRY} certifies a different device key than the one that signed this session`, {
          entry: DEVICE_CERT_ENTRY,
          field: 'devicePublicKey',
        });
        deviceCert = undefined;
      }
    }
  }
  if (trustRoot === undefined) {
    findings.add('untrusted-key', `signed by an untrusted key: device key ${deviceKeyId.slice(0, 16)}… (no trust root was given)`, {
      entry: SESSION_KEY_ENTRY,
    });
    return { trusted: false };
  }
  if (trustRoot.keys.some((k) => k.role === 'device' && k.keyId === deviceKeyId)) return { trusted: true, via: 'device-key' };
  if (deviceCert !== undefined) {
    const issuer = trustRoot.keys.find((k) => k.role === 'org-root' && k.keyId === deviceCert.body.issuerKeyId);
    const issuerKey = issuer === undefined ? undefined : fromBase64(issuer.publicKey);
    if (issuerKey !== undefined) {
      if (!verifyEnvelope(suite, deviceCert.opened, issuerKey)) {
        findings.add('bad-signature', `${DEVICE_CERT_ENTRY} is not validly signed by org root ${issuer!.keyId.slice(0, 16)}…`, {
          entry: DEVICE_CERT_ENTRY,
        });
        return { trusted: false };
      }
      const { notBefore, notAfter } = deviceCert.body;
      if (startedAt < notBefore || startedAt > notAfter) {
        findings.add(
          'untrusted-key',
          `signed by an untrusted key: ${DEVICE_CERT_ENTRY} is valid from ${isoTime(notBefore)} to ${isoTime(notAfter)}, but the session started at ${isoTime(startedAt)}`,
          { entry: DEVICE_CERT_ENTRY, field: 'notAfter' },
        );
        return { trusted: false };
      }
      // The certificate's subject is only a claim until this signature is checked, so only now is it reported.
      return { trusted: true, via: 'org-root', orgKeyId: issuer!.keyId, subject: deviceCert.body.subject };
    }
  }
  findings.add(
    'untrusted-key',
    `signed by an untrusted key: device key ${deviceKeyId.slice(0, 16)}… is not in the trust root${trustRoot.name === undefined ? '' : ` "${trustRoot.name}"`}${deviceCert === undefined ? ' and the bundle has no device certificate' : ' and its certificate is from an issuer the trust root does not know'}`,
    { entry: certBytes === undefined ? SESSION_KEY_ENTRY : DEVICE_CERT_ENTRY },
  );
  return { trusted: false };
}

function reportOf(findings: Findings, extra: Partial<VerifyReport> = {}): VerifyReport {
  const status = statusOf(findings.list);
  const trusted = extra.trusted ?? false;
  const intact = status === 'intact' || status === 'untrusted-key';
  return { status, trusted, intact, summary: summarize(status, findings.list, trusted), findings: findings.list, ...extra };
}

export function verifyBundle(bundle: Uint8Array, options: VerifyOptions = {}): VerifyReport {
  // §7.1 container
  let entries: Map<string, Uint8Array>;
  try {
    entries = readZip(bundle, options.zipLimits, options.zipCodec);
  } catch (error) {
    const findings = new Findings();
    findings.fromError(error);
    return reportOf(findings);
  }
  return verifyEntries(entries, options);
}

/**
 * verifyBundle on the entries `readZip` returned for the bundle (with the limits and codec of
 * `options`): for a caller that needs the entries too (the service stores and indexes them) and
 * would otherwise inflate the bundle twice.
 */
export function verifyEntries(entries: Map<string, Uint8Array>, options: VerifyOptions = {}): VerifyReport {
  const suite = options.suite ?? nobleSuite;
  const findings = new Findings();
  const done = (extra: Partial<VerifyReport> = {}): VerifyReport => reportOf(findings, extra);

  for (const name of [MANIFEST_ENTRY, CAST_ENTRY, NOTES_ENTRY, SESSION_KEY_ENTRY]) {
    if (!entries.has(name)) findings.add('malformed', `bundle has no ${name}`, { entry: name });
  }
  for (const name of entries.keys()) {
    if (!KNOWN_ENTRIES.has(name)) findings.add('digest-mismatch', `bundle holds ${name}, which the format does not define and the manifest does not cover`, { entry: name });
  }
  if (findings.has('malformed')) return done();

  // §7.2 session key certificate: the device key vouches for the session key
  const sessionKeyEntry = entries.get(SESSION_KEY_ENTRY)!;
  const cert = openSigned(findings, sessionKeyEntry, SESSION_KEY_ENTRY, SESSION_KEY_PAYLOAD_TYPE, SessionKeyCertSchema);
  if (cert === undefined) return done();
  const deviceKey = decodeKey(findings, cert.body.devicePublicKey, SESSION_KEY_ENTRY, 'devicePublicKey');
  const sessionKey = decodeKey(findings, cert.body.publicKey, SESSION_KEY_ENTRY, 'publicKey');
  if (deviceKey === undefined || sessionKey === undefined) return done();
  const deviceKeyId = keyIdOf(suite, deviceKey);
  const signer = { deviceKeyId, sessionKeyId: keyIdOf(suite, sessionKey) };
  const certSigned = verifyEnvelope(suite, cert.opened, deviceKey);
  if (!certSigned) {
    findings.add('bad-signature', `${SESSION_KEY_ENTRY}: the device key's signature over the session key is not valid`, { entry: SESSION_KEY_ENTRY });
  }

  // §7.3 manifest: signed by the same device key; subjects match the entries
  const manifest = openSigned(findings, entries.get(MANIFEST_ENTRY)!, MANIFEST_ENTRY, MANIFEST_PAYLOAD_TYPE, StatementSchema);
  if (manifest === undefined) return done({ signer });
  const predicate = manifest.body.predicate;
  const manifestSigned = verifyEnvelope(suite, manifest.opened, deviceKey);
  if (!manifestSigned) {
    findings.add('bad-signature', `${MANIFEST_ENTRY}: the device key's signature over the manifest is not valid`, { entry: MANIFEST_ENTRY });
  }
  if (predicate.sessionId !== cert.body.sessionId || predicate.origin !== cert.body.origin) {
    findings.add('tampered', `${MANIFEST_ENTRY} describes session ${predicate.sessionId}, but the session key was issued for ${cert.body.sessionId}`, {
      entry: MANIFEST_ENTRY,
      field: 'predicate.sessionId',
    });
  }
  const countersignedBy = checkCountersignature(suite, findings, manifest.opened, deviceKeyId, options.trustRoot);
  const subjects = new Map(manifest.body.subject.map((s) => [s.name, s.digest.sha256]));
  for (const [name, data] of entries) {
    if (name === MANIFEST_ENTRY || !KNOWN_ENTRIES.has(name)) continue;
    const expected = subjects.get(name);
    if (expected === undefined) {
      findings.add('digest-mismatch', `${name} is not listed among the manifest's subjects`, { entry: name });
    } else if (expected !== toHex(suite.sha256(data))) {
      findings.add('digest-mismatch', `${name} does not match its sha256 digest in the manifest`, { entry: name });
    }
  }
  for (const name of subjects.keys()) {
    if (!entries.has(name)) findings.add('digest-mismatch', `the manifest lists ${name}, which the bundle does not hold`, { entry: name });
  }

  // §7.4 checkpoints, §7.5 recording
  const checkpoints = checkNotes(suite, findings, entries.get(NOTES_ENTRY)!, sessionKeyEntry, cert.body, sessionKey);
  const recording = checkRecording(suite, findings, entries.get(CAST_ENTRY)!, checkpoints, options.onEvent);
  const last = checkpoints[checkpoints.length - 1];
  const seal = last?.body.kind === 'seal' ? last : undefined;
  for (const cp of checkpoints) {
    if (cp.body.size > recording.lines) {
      findings.add(
        'truncated',
        `${CAST_ENTRY} is truncated: checkpoint ${cp.index} attests ${cp.body.size} lines, the file has ${recording.lines}`,
        { entry: CAST_ENTRY, checkpoint: cp.index, attested: cp.body.size, present: recording.lines },
      );
      break;
    }
  }
  const coveredSize = last?.body.size ?? 0;
  if (recording.lines > coveredSize) {
    const range: [number, number] = [coveredSize, recording.lines];
    if (seal !== undefined) {
      findings.add('tampered', `${CAST_ENTRY} has lines ${coveredSize + 1}–${recording.lines} appended after the seal`, {
        entry: CAST_ENTRY,
        events: range,
        line: coveredSize + 1,
      });
    } else {
      findings.add('unsealed-tail', `${CAST_ENTRY} has an unsealed tail: events [${coveredSize}, ${recording.lines}) are covered by no checkpoint`, {
        entry: CAST_ENTRY,
        events: range,
        line: coveredSize + 1,
      });
    }
  }
  if (seal === undefined) {
    findings.add('no-seal', `${NOTES_ENTRY} has no final seal: the session did not end cleanly`, { entry: NOTES_ENTRY });
  } else {
    if (recording.lastCode !== undefined && recording.lastCode !== 'x' && recording.lines === seal.body.size) {
      findings.add('malformed', `${CAST_ENTRY} is sealed but does not end with an exit event`, { entry: CAST_ENTRY, line: recording.lines });
    }
    if (predicate.tree.size !== seal.body.size || predicate.tree.root !== toBase64(seal.body.root) || !predicate.sealed) {
      findings.add('digest-mismatch', `${MANIFEST_ENTRY} tree (size ${predicate.tree.size}) does not match the seal (size ${seal.body.size})`, {
        entry: MANIFEST_ENTRY,
        field: 'predicate.tree',
        checkpoint: seal.index,
      });
    }
  }
  if (seal === undefined && predicate.sealed) {
    findings.add('digest-mismatch', `${MANIFEST_ENTRY} says the session is sealed, but no seal checkpoint is valid`, { entry: MANIFEST_ENTRY, field: 'predicate.sealed' });
  }
  if (predicate.recovered !== null) {
    findings.add('info', `recovered after a crash at ${isoTime(predicate.recovered.recoveredAt)}: ${predicate.recovered.reason}`, {
      entry: MANIFEST_ENTRY,
      field: 'predicate.recovered',
    });
    if (predicate.recovered.tornBytes > 0) {
      findings.add('torn-line', `a torn last line of ${predicate.recovered.tornBytes} bytes was dropped at recovery (after line ${recording.lines})`, {
        entry: CAST_ENTRY,
        line: recording.lines + 1,
      });
    }
  }

  // §7.6 trust
  const trust = checkTrust(suite, findings, entries, deviceKey, predicate.startedAt, options.trustRoot);
  return done({
    // Trust is in what the device key signed: without its valid signatures there is nothing to trust.
    trusted: trust.trusted && certSigned && manifestSigned,
    session: predicate,
    ...(recording.header === undefined ? {} : { header: recording.header }),
    signer: {
      ...signer,
      ...(trust.subject === undefined ? {} : { subject: trust.subject }),
      ...(trust.via === undefined ? {} : { trustedVia: trust.via }),
      ...(trust.orgKeyId === undefined ? {} : { orgKeyId: trust.orgKeyId }),
    },
    tree: { lines: recording.lines, checkpoints: checkpoints.length, verifiedSize: recording.verifiedSize, sealed: seal !== undefined },
    ...(countersignedBy === undefined ? {} : { countersignedBy }),
  });
}

/**
 * The manifest's signatures other than the device key's: a service key of the trust root must
 * have made a valid one (a forged or damaged countersignature is a bad signature, named); one by
 * a key the trust root does not list is reported, not trusted. A bundle without any is not
 * wrong: it has not been through ingest.
 */
function checkCountersignature(
  suite: CryptoSuite,
  findings: Findings,
  manifest: OpenedEnvelope,
  deviceKeyId: string,
  trustRoot: TrustRoot | undefined,
): VerifyReport['countersignedBy'] {
  const services = new Map((trustRoot?.keys ?? []).filter((k) => k.role === 'service').map((k) => [k.keyId, k]));
  let countersigned: VerifyReport['countersignedBy'];
  for (const signature of manifest.envelope.signatures) {
    if (signature.keyid === deviceKeyId) continue;
    const service = services.get(signature.keyid);
    if (service === undefined) {
      findings.add('info', `${MANIFEST_ENTRY} is countersigned by key ${signature.keyid.slice(0, 16)}…, which the trust root does not list as a service key`, {
        entry: MANIFEST_ENTRY,
      });
      continue;
    }
    const publicKey = fromBase64(service.publicKey);
    if (publicKey !== undefined && verifyEnvelope(suite, manifest, publicKey)) {
      countersigned = { keyId: service.keyId, ...(service.name === undefined ? {} : { name: service.name }) };
    } else {
      findings.add('bad-signature', `${MANIFEST_ENTRY}: the service's countersignature (key ${signature.keyid.slice(0, 16)}…) is not valid`, { entry: MANIFEST_ENTRY });
    }
  }
  return countersigned;
}
