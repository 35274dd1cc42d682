/**
 * Test support for the bundle format: builds real, valid `.custody` bundles
 * purely in memory, the way the recorder does (recorder/session.ts
 * `RecordedSession`, recorder/pack.ts `packSpool`), with options to put faults
 * in at the content level so that every byte is still honestly signed.
 *
 * Pure like the rest of shared/: no node: modules, no Buffer. Keys come from
 * fixed seeds so that every run builds the same bytes.
 */
import { serializeEvent, serializeHeader, type CastEvent, type CastHeader } from './asciicast.ts';
import { concatBytes, toBase64, toHex, utf8 } from './bytes.ts';
import { keyIdOf, nobleSigner, nobleSuite, type CryptoSuite, type Ed25519Signer } from './crypto.ts';
import { serializeEnvelope, signEnvelope } from './dsse.ts';
import {
  DEVICE_CERT_PAYLOAD_TYPE,
  FORMAT_VERSION,
  SESSION_KEY_PAYLOAD_TYPE,
  type DeviceCert,
  type SessionKeyCert,
  type SessionPredicate,
  type TrustRoot,
} from './manifest.ts';
import { MerkleAccumulator } from './merkle.ts';
import { FormatError } from './errors.ts';
import { formatCheckpoint, originForSession, signNote, type CheckpointKind } from './note.ts';
import { packBundle, type BundleContents } from './writer.ts';
import { readZip, writeZip } from './zip.ts';
import type { Finding, VerifyReport } from './verifier.ts';

// ---------------------------------------------------------------------------
// Keys from fixed seeds.

function seed(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

/** The install's device key: certifies session keys and signs manifests. */
export const DEVICE_KEY: Ed25519Signer = nobleSigner(seed(0x11));
/** The per-session key that signs checkpoints (the recorder makes a fresh one per session). */
export const SESSION_KEY: Ed25519Signer = nobleSigner(seed(0x22));
/** The org root that certifies device keys at enrollment. */
export const ORG_KEY: Ed25519Signer = nobleSigner(seed(0x33));
/** A key nobody trusts: another org, or an attacker. */
export const STRANGER_KEY: Ed25519Signer = nobleSigner(seed(0x44));

export const DEFAULT_SESSION_ID = 'sess-0001';
/** 2025-01-01T00:00:00Z */
export const DEFAULT_STARTED_AT = 1_735_689_600_000;

export function trustRoot(keys: readonly { key: Ed25519Signer; role: 'org-root' | 'device' | 'service' }[], name?: string): TrustRoot {
  return {
    version: 1,
    ...(name === undefined ? {} : { name }),
    keys: keys.map(({ key, role }) => ({ keyId: keyIdOf(nobleSuite, key.publicKey), publicKey: toBase64(key.publicKey), role })),
  };
}

// ---------------------------------------------------------------------------
// The recording.

/** A line written verbatim (no JSON encoding): for hostile content. */
export interface RawLine {
  readonly raw: string | Uint8Array;
}
export type LineSpec = CastEvent | RawLine;

/** What the default session does: a prompt, a command typed and echoed, a resize, a marker. */
export const DEFAULT_EVENTS: readonly CastEvent[] = [
  { interval: 0.05, code: 'o', data: '$ ' },
  { interval: 0.8, code: 'i', data: 'ls\r' },
  { interval: 0.01, code: 'o', data: 'ls\r\n' },
  { interval: 0.02, code: 'o', data: 'README.md  src\r\n$ ' },
  { interval: 1.5, code: 'r', data: '100x30' },
  { interval: 0.3, code: 'm', data: 'redacted:aws-access-key' },
  { interval: 0.25, code: 'o', data: 'caf\u00e9 \u{1F600}\r\n' },
];

export interface DeviceCertOptions {
  /** Signs the certificate; the org root by default. */
  readonly issuer?: Ed25519Signer;
  /** The key id named as issuer; the issuer's by default. */
  readonly issuerKeyId?: string;
  /** The device key certified; the bundle's device key by default. */
  readonly devicePublicKey?: Uint8Array;
  readonly subject?: DeviceCert['subject'];
  readonly notBefore?: number;
  readonly notAfter?: number;
}

export interface BundleOptions {
  readonly sessionId?: string;
  readonly startedAt?: number;
  readonly deviceKey?: Ed25519Signer;
  readonly sessionKey?: Ed25519Signer;
  /** Line 1 verbatim; the recorder's header by default. */
  readonly header?: string | Uint8Array;
  /** Lines between the header and the exit event. */
  readonly events?: readonly LineSpec[];
  /** Data of the exit event (`x`); `null`: the session never exited (crash). Default 0. */
  readonly exitStatus?: number | null;
  /** Write the seal checkpoint after the exit event. Default: when there is an exit event. */
  readonly seal?: boolean;
  /** Lines written after the last checkpoint, as when the recorder crashes before the next one is due. */
  readonly unsealedTail?: readonly LineSpec[];
  /** Bytes after the last "\n": a line torn by a crash. */
  readonly tornTail?: string | Uint8Array;
  /** Include keys/device-cert.dsse.json. */
  readonly deviceCert?: DeviceCertOptions;
  /** Set in the manifest, as recovery does. */
  readonly recovered?: SessionPredicate['recovered'];
  /** Changes to the predicate after it has been filled in the recorder's way. */
  readonly predicate?: Partial<SessionPredicate>;
}

export interface BuiltBundle {
  /** The `.custody` file. */
  readonly bytes: Uint8Array;
  readonly contents: BundleContents;
  /** Complete lines of session.cast (header included). */
  readonly lines: number;
  /** How many lines each checkpoint covers, in order, with its kind. */
  readonly checkpoints: readonly { readonly size: number; readonly kind: CheckpointKind; readonly line: number }[];
}

const LINE_FEED = utf8('\n');

function lineBytes(spec: LineSpec): Uint8Array {
  if ('raw' in spec) return typeof spec.raw === 'string' ? utf8(spec.raw) : spec.raw;
  return utf8(serializeEvent(spec));
}

/** The checkpoint the recorder requests after this line, if any (see RecordedSession). */
function kindAfter(spec: LineSpec, outputsSinceCheckpoint: number): CheckpointKind | undefined {
  if ('raw' in spec) return 'interval';
  switch (spec.code) {
    case 'i':
      return 'input';
    case 'r':
      return 'resize';
    case 'm':
      return 'marker';
    case 'o':
      // Output is checkpointed on the 250 ms timer; here every second output line.
      return outputsSinceCheckpoint >= 2 ? 'interval' : undefined;
    case 'x':
      return 'seal';
    default:
      return spec.code satisfies never;
  }
}

export function defaultHeader(startedAt: number = DEFAULT_STARTED_AT): CastHeader {
  return {
    version: 3,
    term: { cols: 80, rows: 24, type: 'xterm-256color' },
    timestamp: Math.floor(startedAt / 1000),
    command: 'bash -l',
    env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
  };
}

export function sessionKeyName(sessionId: string): string {
  return `custody-session-${sessionId}`;
}

export function deviceCertBytes(deviceKey: Ed25519Signer, options: DeviceCertOptions = {}, suite: CryptoSuite = nobleSuite): Uint8Array {
  const issuer = options.issuer ?? ORG_KEY;
  const devicePublicKey = options.devicePublicKey ?? deviceKey.publicKey;
  const cert: DeviceCert = {
    formatVersion: FORMAT_VERSION,
    devicePublicKey: toBase64(devicePublicKey),
    deviceKeyId: keyIdOf(suite, devicePublicKey),
    subject: options.subject ?? { sub: 'admin-7', name: 'Ada Admin', email: 'ada@example.com' },
    notBefore: options.notBefore ?? DEFAULT_STARTED_AT - 30 * 86_400_000,
    notAfter: options.notAfter ?? DEFAULT_STARTED_AT + 335 * 86_400_000,
    issuerKeyId: options.issuerKeyId ?? keyIdOf(suite, issuer.publicKey),
  };
  return serializeEnvelope(signEnvelope(suite, DEVICE_CERT_PAYLOAD_TYPE, utf8(JSON.stringify(cert)), issuer));
}

/**
 * The `prev` that the next checkpoint carries, as RecordedSession computes it:
 * SHA-256 of the previous note's signed text (not its signature lines, so that
 * the service can add a cosignature line later without breaking the chain).
 */
export function chainHash(suite: CryptoSuite, signedText: string): Uint8Array {
  return suite.sha256(utf8(signedText));
}

/**
 * Records a session in memory and packs it, as RecordedSession and packSpool do:
 * header, `open` checkpoint, events with checkpoints as they fall due, the exit
 * event and the `seal`; notes chained from the session key certificate (see
 * {@link chainHash}); the manifest signed by the device key over every entry's digest.
 */
export function buildBundle(options: BundleOptions = {}): BuiltBundle {
  const suite = nobleSuite;
  const sessionId = options.sessionId ?? DEFAULT_SESSION_ID;
  const startedAt = options.startedAt ?? DEFAULT_STARTED_AT;
  const deviceKey = options.deviceKey ?? DEVICE_KEY;
  const sessionKey = options.sessionKey ?? SESSION_KEY;
  const origin = originForSession(sessionId);
  const keyName = sessionKeyName(sessionId);

  const cert: SessionKeyCert = {
    formatVersion: FORMAT_VERSION,
    sessionId,
    origin,
    keyName,
    publicKey: toBase64(sessionKey.publicKey),
    devicePublicKey: toBase64(deviceKey.publicKey),
    issuedAt: startedAt,
  };
  const sessionKeyCert = serializeEnvelope(signEnvelope(suite, SESSION_KEY_PAYLOAD_TYPE, utf8(JSON.stringify(cert)), deviceKey));

  const tree = new MerkleAccumulator(suite);
  const castParts: Uint8Array[] = [];
  let notes = '';
  let notesLine = 1;
  let prev = suite.sha256(sessionKeyCert);
  let elapsedMs = 0;
  const checkpoints: { size: number; kind: CheckpointKind; line: number }[] = [];

  const append = (line: Uint8Array): void => {
    tree.appendLine(line);
    castParts.push(line, LINE_FEED);
  };
  const checkpoint = (kind: CheckpointKind): void => {
    const text = formatCheckpoint({ origin, size: tree.size, root: tree.root(), kind, time: startedAt + Math.round(elapsedMs), prev });
    const note = signNote(suite, text, keyName, sessionKey);
    checkpoints.push({ size: tree.size, kind, line: notesLine });
    notes += note + '\n';
    notesLine += note.split('\n').length; // the note's lines plus the separating blank line
    prev = chainHash(suite, text);
  };

  const header = options.header ?? serializeHeader(defaultHeader(startedAt));
  append(typeof header === 'string' ? utf8(header) : header);
  checkpoint('open');

  const exitStatus = options.exitStatus === undefined ? 0 : options.exitStatus;
  const seal = options.seal ?? exitStatus !== null;
  let outputs = 0;
  for (const spec of options.events ?? DEFAULT_EVENTS) {
    append(lineBytes(spec));
    if (!('raw' in spec)) elapsedMs += spec.interval * 1000;
    if (!('raw' in spec) && spec.code === 'o') outputs++;
    const kind = kindAfter(spec, outputs);
    if (kind !== undefined && kind !== 'seal') {
      checkpoint(kind);
      outputs = 0;
    }
  }
  if (exitStatus !== null) {
    elapsedMs += 20;
    append(utf8(serializeEvent({ interval: 0.02, code: 'x', data: String(exitStatus) })));
    if (seal) checkpoint('seal');
  }
  for (const spec of options.unsealedTail ?? []) append(lineBytes(spec));
  if (options.tornTail !== undefined) castParts.push(typeof options.tornTail === 'string' ? utf8(options.tornTail) : options.tornTail);

  const cast = concatBytes(castParts);
  const predicate: SessionPredicate = {
    formatVersion: FORMAT_VERSION,
    sessionId,
    origin,
    startedAt,
    endedAt: seal ? startedAt + Math.round(elapsedMs) + 5 : null,
    command: ['bash', '-l'],
    cwd: '/home/ada',
    metadata: { target: 'db-prod-1', ticket: 'OPS-1234' },
    // packSpool: the tree over every complete line of the spool.
    tree: { size: tree.size, root: toBase64(tree.root()) },
    sealed: seal,
    exitStatus,
    recovered: options.recovered ?? null,
    redaction: { policyVersion: 'rules-2025.1', counts: { 'aws-access-key': 1 } },
    ...options.predicate,
  };
  const contents: BundleContents = {
    cast,
    notes: utf8(notes),
    sessionKeyCert,
    ...(options.deviceCert === undefined ? {} : { deviceCert: deviceCertBytes(deviceKey, options.deviceCert, suite) }),
    predicate,
  };
  return { bytes: packBundle(suite, contents, deviceKey), contents, lines: tree.size, checkpoints };
}

/** Packs contents changed after the fact, re-signing the manifest (a device-key holder's view). */
export function repack(contents: BundleContents, deviceKey: Ed25519Signer = DEVICE_KEY): Uint8Array {
  return packBundle(nobleSuite, contents, deviceKey);
}

// ---------------------------------------------------------------------------
// Working on the zip layer.

/** The bundle's entries, in central directory order. */
export function entriesOf(bundle: Uint8Array): Map<string, Uint8Array> {
  return readZip(bundle);
}

/** Zips `entries` with the canonical writer, in the map's order. */
export function rezip(entries: ReadonlyMap<string, Uint8Array>): Uint8Array {
  return writeZip([...entries].map(([name, data]) => ({ name, data })));
}

/**
 * Returns the bundle with one entry replaced (`data`), removed (`undefined`)
 * or added (a new name goes last). The zip layer stays valid; nothing is re-signed.
 */
export function withEntry(bundle: Uint8Array, name: string, data: Uint8Array | undefined): Uint8Array {
  const entries = entriesOf(bundle);
  if (data === undefined) entries.delete(name);
  else entries.set(name, data);
  return rezip(entries);
}

// ---------------------------------------------------------------------------
// Reading reports.

export function findingsWith(report: VerifyReport, status: Finding['status']): Finding[] {
  return report.findings.filter((f) => f.status === status);
}

/** The report as text for assertion messages. */
export function describeReport(report: VerifyReport): string {
  return `${report.status}: ${report.findings.map((f) => `[${f.status}] ${f.message} ${JSON.stringify(f.location)}`).join('; ')}`;
}

/**
 * nobleSuite with Ed25519 results remembered, for property tests that verify
 * hundreds of near-identical bundles: the answers are nobleSuite's own.
 */
export function memoizedNobleSuite(): CryptoSuite {
  const seen = new Map<string, boolean>();
  return {
    sha256: (...parts) => nobleSuite.sha256(...parts),
    ed25519Verify(publicKey, message, signature) {
      const key = `${toHex(publicKey)}:${toHex(signature)}:${toHex(nobleSuite.sha256(message))}:${message.length}`;
      let ok = seen.get(key);
      if (ok === undefined) {
        ok = nobleSuite.ed25519Verify(publicKey, message, signature);
        seen.set(key, ok);
      }
      return ok;
    },
  };
}

/** Runs `fn` and returns the FormatError it throws; fails the test on anything else. */
export function catchFormatError(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FormatError) return error;
    throw new Error(`expected a FormatError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a FormatError, but nothing was thrown');
}
