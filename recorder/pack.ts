/**
 * Packs a spool folder into a `.custody` bundle, streaming the recording from
 * disk so that memory stays flat however long the session was. The result is
 * the same format the pure writer in shared/bundle produces; this one exists
 * because a recording may be far larger than memory should hold.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import {
  CAST_ENTRY,
  DEVICE_CERT_ENTRY,
  FORMAT_VERSION,
  MANIFEST_ENTRY,
  MANIFEST_PAYLOAD_TYPE,
  MerkleAccumulator,
  NOTES_ENTRY,
  PREDICATE_TYPE,
  SESSION_KEY_ENTRY,
  STATEMENT_TYPE,
  serializeEnvelope,
  signEnvelope,
  toBase64,
  toHex,
  utf8,
  type Ed25519Signer,
  type SessionPredicate,
  type Statement,
} from '../shared/bundle/index.ts';
import { parseMarker, type Marker } from '../shared/redaction/markers.ts';
import { nodeSuite } from '../node-adapters/crypto.ts';
import { SPOOL_FILES, type SpoolMeta } from './spool.ts';

/** Zip timestamps are fixed so that a bundle's bytes depend only on its contents. */
const ZIP_MTIME = new Date(1980, 0, 1, 0, 0, 0);

export interface CastScan {
  /** Complete lines (each ended by "\n"). */
  readonly lines: number;
  readonly root: Uint8Array;
  /** Bytes of the complete lines: the part that goes into the bundle. */
  readonly bytes: number;
  readonly sha256: string;
  /** Bytes after the last "\n": a line torn by a crash. */
  readonly tornBytes: number;
  /** Data of the last complete line, for finding the exit event. */
  readonly lastLine: string;
  /** The recording's markers that parse as redaction or hidden-input markers, in order. */
  readonly markers: readonly Marker[];
}

/** `[interval,"m",` at the start of a line: cheap to test before parsing anything. */
const MARKER_EVENT = Buffer.from(',"m",');

function markerOf(line: Buffer): Marker | undefined {
  const at = line.indexOf(MARKER_EVENT);
  if (at < 0 || at > 24) return undefined;
  try {
    const event = JSON.parse(line.toString('utf8')) as unknown;
    return Array.isArray(event) && event[1] === 'm' && typeof event[2] === 'string' ? parseMarker(event[2]) : undefined;
  } catch {
    return undefined;
  }
}

/** Streams session.cast once: line count, Merkle root, digest of the complete lines, torn tail. */
export async function scanCast(path: string): Promise<CastScan> {
  const acc = new MerkleAccumulator(nodeSuite);
  const digest = createHash('sha256');
  let carry: Buffer = Buffer.alloc(0);
  let bytes = 0;
  let lastLine: Buffer = Buffer.alloc(0);
  const markers: Marker[] = [];
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    const data = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    let start = 0;
    for (let end = data.indexOf(0x0a, start); end >= 0; end = data.indexOf(0x0a, start)) {
      const line = data.subarray(start, end);
      acc.appendLine(line);
      lastLine = line;
      const marker = markerOf(line);
      if (marker !== undefined) markers.push(marker);
      start = end + 1;
    }
    digest.update(data.subarray(0, start));
    bytes += start;
    lastLine = Buffer.from(lastLine); // detach from the chunk buffer
    carry = Buffer.from(data.subarray(start));
  }
  return {
    lines: acc.size,
    root: acc.root(),
    bytes,
    sha256: digest.digest('hex'),
    tornBytes: carry.length,
    lastLine: lastLine.toString('utf8'),
    markers,
  };
}

export interface PackInput {
  readonly spoolDir: string;
  readonly meta: SpoolMeta;
  /** The checkpoints to pack; default: the spool's checkpoints.notes as it is. */
  readonly notes?: Uint8Array;
  readonly deviceKey: Ed25519Signer;
  /** The org root's certificate for the device key; default: the spool's device-cert.dsse.json, if the session had one. */
  readonly deviceCert?: Uint8Array;
  readonly scan: CastScan;
  readonly sealed: boolean;
  readonly endedAt: number | null;
  readonly exitStatus: number | null;
  readonly recovered: SessionPredicate['recovered'];
  readonly redactionCounts: Record<string, number>;
}

/** Writes the bundle to meta.bundlePath (temp file, fsync, rename). Returns its sha256. */
export async function packSpool(input: PackInput): Promise<string> {
  const { meta, scan, spoolDir } = input;
  const notes = Buffer.from(input.notes ?? (await readFile(join(spoolDir, SPOOL_FILES.notes))));
  const sessionKeyCert = await readFile(join(spoolDir, SPOOL_FILES.sessionKey));
  const deviceCert = input.deviceCert ?? (await readFile(join(spoolDir, SPOOL_FILES.deviceCert)).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // not enrolled: a bundle without one
    throw error;
  }));
  const predicate: SessionPredicate = {
    formatVersion: FORMAT_VERSION,
    sessionId: meta.sessionId,
    origin: meta.origin,
    startedAt: meta.startedAt,
    endedAt: input.endedAt,
    command: meta.command,
    cwd: meta.cwd,
    metadata: meta.metadata,
    tree: { size: scan.lines, root: toBase64(scan.root) },
    sealed: input.sealed,
    exitStatus: input.exitStatus,
    recovered: input.recovered,
    redaction: { policyVersion: meta.policyVersion, counts: input.redactionCounts },
  };
  const sha = (data: Uint8Array): string => toHex(nodeSuite.sha256(data));
  const subject: Statement['subject'] = [
    { name: CAST_ENTRY, digest: { sha256: scan.sha256 } },
    { name: NOTES_ENTRY, digest: { sha256: sha(notes) } },
    { name: SESSION_KEY_ENTRY, digest: { sha256: sha(sessionKeyCert) } },
  ];
  if (deviceCert !== undefined) subject.push({ name: DEVICE_CERT_ENTRY, digest: { sha256: sha(deviceCert) } });
  const statement: Statement = { _type: STATEMENT_TYPE, subject, predicateType: PREDICATE_TYPE, predicate };
  const manifest = serializeEnvelope(signEnvelope(nodeSuite, MANIFEST_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), input.deviceKey));

  const zip = new yazl.ZipFile();
  // forceDosTimestamp: no Unix-time extra field, whose value would depend on the packer's time zone.
  const options = { mtime: ZIP_MTIME, mode: 0o100600, compress: true, forceDosTimestamp: true };
  zip.addBuffer(Buffer.from(manifest), MANIFEST_ENTRY, options);
  // Only the complete lines: a torn tail from a crash is dropped (and reported in the manifest).
  if (scan.bytes > 0) zip.addReadStream(createReadStream(join(spoolDir, SPOOL_FILES.cast), { start: 0, end: scan.bytes - 1 }), CAST_ENTRY, options);
  else zip.addBuffer(Buffer.alloc(0), CAST_ENTRY, options);
  zip.addBuffer(notes, NOTES_ENTRY, options);
  zip.addBuffer(sessionKeyCert, SESSION_KEY_ENTRY, options);
  if (deviceCert !== undefined) zip.addBuffer(Buffer.from(deviceCert), DEVICE_CERT_ENTRY, options);
  zip.end();

  const temp = `${meta.bundlePath}.${process.pid}.partial`;
  const digest = createHash('sha256');
  zip.outputStream.on('data', (chunk: Buffer) => digest.update(chunk));
  try {
    await pipeline(zip.outputStream, createWriteStream(temp, { mode: 0o600 }));
    const handle = await open(temp, 'r');
    await handle.sync().finally(() => handle.close());
    await rename(temp, meta.bundlePath);
    const dir = await open(dirname(meta.bundlePath), 'r');
    await dir.sync().finally(() => dir.close());
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return digest.digest('hex');
}
