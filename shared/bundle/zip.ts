/**
 * A small, strict zip reader and a deterministic zip writer for `.custody`
 * bundles. Pure: no `node:` modules, no Buffer, no DOM; runs in Node and in the
 * browser verifier.
 *
 * The reader treats its input as hostile. It supports exactly the subset of
 * PKWARE's APPNOTE.TXT (6.3.x) that bundles need: a single disk, no ZIP64, no
 * encryption, stored (0) or deflated (8) regular files with safe relative
 * names. Everything else is refused with a {@link FormatError} that names the
 * entry and says what was wrong. Work and memory are bounded by
 * {@link ZipLimits}: sizes are checked against the caps before anything is
 * inflated, and inflation stops as soon as an entry produces more than it
 * declared.
 */

import { Inflate, deflateSync } from 'fflate';
import { FormatError } from './errors.ts';

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

export interface ZipLimits {
  /** Maximum number of entries in the central directory. */
  maxEntries: number;
  /** Uncompressed cap per entry, in bytes. */
  maxEntryBytes: number;
  /** Uncompressed cap over all entries, in bytes. */
  maxTotalBytes: number;
  /**
   * Maximum uncompressed/compressed ratio per entry; only checked when the entry is over 1 MiB.
   * Deflate cannot exceed about 1032:1 (RFC 1951: a 258-byte match costs at least 2 bits), so
   * the default sits just above that: a larger declared ratio is a lie, while honest output of
   * a very repetitive session (`yes`) still reads. Callers may lower it.
   */
  maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = Object.freeze({
  maxEntries: 64,
  maxEntryBytes: 2 ** 31 - 1,
  maxTotalBytes: 2 ** 32,
  maxRatio: 1100,
});

export interface ZipEntryInput {
  readonly name: string;
  readonly data: Uint8Array;
  /** Deflate the entry (the default). `false` stores it as is. */
  readonly compress?: boolean;
}

// ---------------------------------------------------------------------------
// Format constants (APPNOTE 4.3)
// ---------------------------------------------------------------------------

export const LOCAL_HEADER_SIG = 0x04034b50; // APPNOTE 4.3.7
export const CENTRAL_HEADER_SIG = 0x02014b50; // APPNOTE 4.3.12
export const EOCD_SIG = 0x06054b50; // APPNOTE 4.3.16
const ZIP64_EOCD_LOCATOR_SIG = 0x07064b50; // APPNOTE 4.3.15

export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const EOCD_SIZE = 22;
const ZIP64_EOCD_LOCATOR_SIZE = 20;
const MAX_COMMENT_LENGTH = 0xffff;

const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

// General purpose bit flags (APPNOTE 4.4.4).
const FLAG_ENCRYPTED = 0x0001; // bit 0
export const FLAG_DATA_DESCRIPTOR = 0x0008; // bit 3: crc and sizes follow the data
const FLAG_STRONG_ENCRYPTION = 0x0040; // bit 6
export const FLAG_UTF8 = 0x0800; // bit 11: name is UTF-8
const FLAG_CENTRAL_DIRECTORY_ENCRYPTED = 0x2000; // bit 13

// Extra field header ids (APPNOTE 4.5.2, 4.6.9).
const EXTRA_ZIP64 = 0x0001;
const EXTRA_UNICODE_PATH = 0x7075;

// "Version made by" host systems (APPNOTE 4.4.2.2) and what their external attributes hold.
const HOST_UNIX = 3;
const HOST_DARWIN = 19;
const UNIX_MODE_HOSTS = new Set([HOST_UNIX, HOST_DARWIN]);
const MSDOS_ATTRIBUTE_HOSTS = new Set([0 /* MS-DOS */, 6 /* OS/2 HPFS */, 10 /* NTFS */, 14 /* VFAT */]);
const MSDOS_DIRECTORY_ATTRIBUTE = 0x10;

// Unix st_mode file types (the upper 16 bits of the external attributes on Unix hosts).
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Fields that hold 0xFFFF / 0xFFFFFFFF mean "look in the ZIP64 record" (APPNOTE 4.4.1.4). */
const ZIP64_MARKER_16 = 0xffff;
const ZIP64_MARKER_32 = 0xffffffff;

const MAX_NAME_BYTES = 512;
/** Ratios are only meaningful for big entries: tiny files compress arbitrarily well. */
const RATIO_CHECK_THRESHOLD = 1024 * 1024;
/** DEFLATE can expand at most ~1032:1 (a 258-byte match costs at least 2 bits). */
const DEFLATE_MAX_EXPANSION = 1032;

// What the writer puts in every entry so the output is byte-for-byte reproducible.
const DOS_TIME_MIDNIGHT = 0; // 00:00:00 (APPNOTE 4.4.6)
const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1; // year 1980+0, month 1, day 1
const VERSION_MADE_BY = (HOST_UNIX << 8) | 20; // Unix, spec 2.0
const UNIX_REGULAR_FILE_0644 = ((S_IFREG | 0o644) << 16) >>> 0;

const utf8Encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8');

// ---------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320; APPNOTE 4.4.7)
// ---------------------------------------------------------------------------

/**
 * Slicing-by-8 (Intel, 2006): eight 256-entry tables let the loop consume 8
 * bytes per step, several times faster than the classic one-table loop on
 * gigabyte recordings. Table 0 is the classic table.
 */
const CRC_TABLES = buildCrcTables();

function buildCrcTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const [t0] = tables as [Uint32Array];
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  // Table k maps a byte to its CRC contribution k positions further back.
  for (let k = 1; k < 8; k++) {
    const previous = tables[k - 1] as Uint32Array;
    const table = tables[k] as Uint32Array;
    for (let n = 0; n < 256; n++) {
      const c = previous[n] as number;
      table[n] = ((t0[c & 0xff] as number) ^ (c >>> 8)) >>> 0;
    }
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = CRC_TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
const CRC_CHUNK = 64 * 1024;

function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  // Feeding the hot loop in 64 KiB calls (rather than one call over the whole
  // entry) lets V8 optimize it normally instead of via slower on-stack replacement.
  for (let p = 0; p < data.length; p += CRC_CHUNK) crc = crcUpdate(crc, data, p, Math.min(data.length, p + CRC_CHUNK));
  return (crc ^ 0xffffffff) >>> 0;
}

function crcUpdate(crc: number, data: Uint8Array, start: number, end: number): number {
  let i = start;
  for (const end8 = end - 7; i < end8; i += 8) {
    const lo = crc ^ ((data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24));
    crc =
      (T7[lo & 0xff] as number) ^
      (T6[(lo >>> 8) & 0xff] as number) ^
      (T5[(lo >>> 16) & 0xff] as number) ^
      (T4[lo >>> 24] as number) ^
      (T3[data[i + 4] as number] as number) ^
      (T2[data[i + 5] as number] as number) ^
      (T1[data[i + 6] as number] as number) ^
      (T0[data[i + 7] as number] as number);
  }
  for (; i < end; i++) crc = (T0[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return crc;
}

// ---------------------------------------------------------------------------
// Names: one set of rules for the reader and the writer
// ---------------------------------------------------------------------------

/** How a name appears in messages: JSON quoting, so control characters show as escapes. */
function quote(name: string): string {
  return JSON.stringify(name);
}

function unsafe(name: string, why: string): FormatError {
  return new FormatError('zip-unsafe-path', `zip entry ${quote(name)} ${why}`, { entry: name });
}

/**
 * Refuses names that could escape or confuse an extraction directory, or that
 * different tools would read differently. Bundles hold plain files under
 * relative, `/`-separated paths, so anything else is suspect.
 */
function checkName(name: string, byteLength: number): void {
  if (name.length === 0) throw unsafe(name, 'has an empty name');
  if (byteLength > MAX_NAME_BYTES) throw unsafe(name, `has a ${byteLength}-byte name, over the ${MAX_NAME_BYTES}-byte limit`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(name)) throw unsafe(name, 'contains a NUL or control character');
  if (name.includes('\\')) throw unsafe(name, 'contains a backslash (Windows tools treat it as a path separator)');
  if (name.startsWith('/')) throw unsafe(name, 'is an absolute path');
  if (/^[A-Za-z]:/u.test(name)) throw unsafe(name, 'is an absolute path (starts with a drive letter)');
  // `a:b` names an NTFS alternate data stream; bundle names never need a colon.
  if (name.includes(':')) throw unsafe(name, 'contains ":" (a drive letter or NTFS alternate data stream)');
  const isDirectory = name.endsWith('/');
  for (const segment of (isDirectory ? name.slice(0, -1) : name).split('/')) {
    if (segment === '..') throw unsafe(name, 'escapes the bundle (path contains "..")');
    // `.` and empty segments make two spellings of one path, which would dodge the duplicate check.
    if (segment === '.') throw unsafe(name, 'contains a "." path segment');
    if (segment === '') throw unsafe(name, 'contains an empty path segment ("//")');
  }
  if (isDirectory) {
    throw new FormatError('zip-unsupported', `zip entry ${quote(name)} is a directory entry; bundles contain only files`, { entry: name });
  }
}

/**
 * Tracks names seen so far. Two names that differ only in case or Unicode
 * normalization would overwrite each other on macOS and Windows, so they count
 * as duplicates too.
 */
class NameSet {
  private readonly byKey = new Map<string, string>();

  add(name: string): void {
    const key = name.normalize('NFC').toLowerCase();
    const previous = this.byKey.get(key);
    if (previous === name) {
      throw new FormatError('zip-duplicate-entry', `zip entry ${quote(name)} is listed twice`, { entry: name });
    }
    if (previous !== undefined) {
      throw new FormatError(
        'zip-duplicate-entry',
        `zip entry ${quote(name)} collides with ${quote(previous)} (the names differ only in case or Unicode normalization, so they would overwrite each other on macOS and Windows)`,
        { entry: name },
      );
    }
    this.byKey.set(key, name);
  }
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

interface PreparedEntry {
  readonly name: Uint8Array;
  readonly flags: number;
  readonly method: number;
  readonly crc: number;
  readonly size: number;
  readonly payload: Uint8Array;
  offset: number;
}

/**
 * Builds a zip from `entries`, in the given order. The output depends only on
 * the input: every entry gets the DOS timestamp 1980-01-01 00:00, Unix mode
 * 0644, and no extra fields or comments.
 *
 * Names are checked with the reader's rules, and the writer refuses archives
 * that `readZip` with default limits would refuse (too many entries, too big,
 * or needing ZIP64). An entry whose deflated form would not be smaller, or
 * would exceed the default ratio limit, is stored instead.
 */
export function writeZip(entries: readonly ZipEntryInput[]): Uint8Array {
  const limits = DEFAULT_ZIP_LIMITS;
  if (entries.length > limits.maxEntries) {
    throw new FormatError('zip-bomb', `cannot write ${entries.length} zip entries: readers accept at most ${limits.maxEntries}`);
  }
  const names = new NameSet();
  const prepared: PreparedEntry[] = [];
  let totalBytes = 0;
  for (const entry of entries) {
    const nameBytes = encodeName(entry.name);
    checkName(entry.name, nameBytes.length);
    names.add(entry.name);
    if (entry.data.length > limits.maxEntryBytes) {
      throw new FormatError(
        'zip-bomb',
        `zip entry ${quote(entry.name)} is ${entry.data.length} bytes, over the ${limits.maxEntryBytes}-byte cap readers apply`,
        { entry: entry.name },
      );
    }
    totalBytes += entry.data.length;
    if (totalBytes > limits.maxTotalBytes) {
      throw new FormatError('zip-bomb', `zip entries add up to more than the ${limits.maxTotalBytes}-byte cap readers apply`, { entry: entry.name });
    }
    prepared.push(prepareEntry(entry, nameBytes));
  }
  return assemble(prepared);
}

function encodeName(name: string): Uint8Array {
  const bytes = utf8Encoder.encode(name);
  // TextEncoder silently replaces lone surrogates with U+FFFD; the zip would then hold another name.
  if (lossyUtf8.decode(bytes) !== name) throw unsafe(name, 'is not valid Unicode (it contains a lone surrogate)');
  return bytes;
}

function prepareEntry(entry: ZipEntryInput, name: Uint8Array): PreparedEntry {
  const flags = isAscii(name) ? 0 : FLAG_UTF8;
  const crc = crc32(entry.data);
  const size = entry.data.length;
  let method = METHOD_STORED;
  let payload = entry.data;
  if (entry.compress !== false) {
    const deflated = deflateSync(entry.data, { level: 6 });
    if (deflated.length < size && !exceedsRatio(size, deflated.length, DEFAULT_ZIP_LIMITS.maxRatio)) {
      method = METHOD_DEFLATE;
      payload = deflated;
    }
  }
  return { name, flags, method, crc, size, payload, offset: 0 };
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) >= 0x80) return false;
  return true;
}

function assemble(entries: PreparedEntry[]): Uint8Array {
  let localSize = 0;
  let centralSize = 0;
  for (const entry of entries) {
    entry.offset = localSize;
    localSize += LOCAL_HEADER_SIZE + entry.name.length + entry.payload.length;
    centralSize += CENTRAL_HEADER_SIZE + entry.name.length;
  }
  // Without ZIP64, every offset and size must fit below the 0xFFFFFFFF marker.
  if (localSize + centralSize >= ZIP64_MARKER_32) {
    throw new FormatError('zip-unsupported', `zip would be ${localSize + centralSize + EOCD_SIZE} bytes, which needs ZIP64 (not supported)`);
  }
  const out = new Uint8Array(localSize + centralSize + EOCD_SIZE);
  const view = new DataView(out.buffer);
  let p = 0;
  for (const entry of entries) p = writeLocalHeader(out, view, p, entry);
  for (const entry of entries) p = writeCentralHeader(out, view, p, entry);
  writeEocd(view, p, entries.length, centralSize, localSize);
  return out;
}

/** APPNOTE 4.3.7 */
function writeLocalHeader(out: Uint8Array, view: DataView, p: number, entry: PreparedEntry): number {
  view.setUint32(p, LOCAL_HEADER_SIG, true);
  view.setUint16(p + 4, versionNeeded(entry), true);
  view.setUint16(p + 6, entry.flags, true);
  view.setUint16(p + 8, entry.method, true);
  view.setUint16(p + 10, DOS_TIME_MIDNIGHT, true);
  view.setUint16(p + 12, DOS_DATE_1980_01_01, true);
  view.setUint32(p + 14, entry.crc, true);
  view.setUint32(p + 18, entry.payload.length, true);
  view.setUint32(p + 22, entry.size, true);
  view.setUint16(p + 26, entry.name.length, true);
  view.setUint16(p + 28, 0, true); // no extra field
  out.set(entry.name, p + LOCAL_HEADER_SIZE);
  out.set(entry.payload, p + LOCAL_HEADER_SIZE + entry.name.length);
  return p + LOCAL_HEADER_SIZE + entry.name.length + entry.payload.length;
}

/** APPNOTE 4.3.12 */
function writeCentralHeader(out: Uint8Array, view: DataView, p: number, entry: PreparedEntry): number {
  view.setUint32(p, CENTRAL_HEADER_SIG, true);
  view.setUint16(p + 4, VERSION_MADE_BY, true);
  view.setUint16(p + 6, versionNeeded(entry), true);
  view.setUint16(p + 8, entry.flags, true);
  view.setUint16(p + 10, entry.method, true);
  view.setUint16(p + 12, DOS_TIME_MIDNIGHT, true);
  view.setUint16(p + 14, DOS_DATE_1980_01_01, true);
  view.setUint32(p + 16, entry.crc, true);
  view.setUint32(p + 20, entry.payload.length, true);
  view.setUint32(p + 24, entry.size, true);
  view.setUint16(p + 28, entry.name.length, true);
  view.setUint16(p + 30, 0, true); // extra field length
  view.setUint16(p + 32, 0, true); // comment length
  view.setUint16(p + 34, 0, true); // disk number start
  view.setUint16(p + 36, 0, true); // internal attributes
  view.setUint32(p + 38, UNIX_REGULAR_FILE_0644, true);
  view.setUint32(p + 42, entry.offset, true);
  out.set(entry.name, p + CENTRAL_HEADER_SIZE);
  return p + CENTRAL_HEADER_SIZE + entry.name.length;
}

/** APPNOTE 4.3.16 */
function writeEocd(view: DataView, p: number, count: number, cdSize: number, cdOffset: number): void {
  view.setUint32(p, EOCD_SIG, true);
  view.setUint16(p + 4, 0, true); // this disk
  view.setUint16(p + 6, 0, true); // disk with the central directory
  view.setUint16(p + 8, count, true);
  view.setUint16(p + 10, count, true);
  view.setUint32(p + 12, cdSize, true);
  view.setUint32(p + 16, cdOffset, true);
  view.setUint16(p + 20, 0, true); // comment length
}

/** APPNOTE 4.4.3.2: 1.0 suffices for stored files, deflate needs 2.0. */
function versionNeeded(entry: PreparedEntry): number {
  return entry.method === METHOD_DEFLATE ? 20 : 10;
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/** One central directory record, after validation. */
interface CentralEntry {
  readonly index: number;
  readonly name: string;
  readonly nameBytes: Uint8Array;
  readonly flags: number;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
}

/** Where an entry's bytes lie in the file, from its local header. */
interface EntryExtent {
  readonly entry: CentralEntry;
  /** first byte of the local header */
  readonly start: number;
  readonly dataStart: number;
  /** one past the last byte of the compressed data */
  readonly end: number;
}

interface Eocd {
  readonly offset: number;
  readonly entryCount: number;
  readonly cdOffset: number;
  readonly cdSize: number;
}

/**
 * Reads every entry of a zip into memory, checking structure, names, sizes and
 * CRCs. Returns the entries in central directory order. Throws only
 * {@link FormatError}.
 *
 * Memory: each entry's declared uncompressed size is allocated before it is
 * inflated, so `limits` bound what a hostile file can make this allocate.
 */
export function readZip(bytes: Uint8Array, limits?: Partial<ZipLimits>, codec?: ZipCodec): Map<string, Uint8Array> {
  const effective = resolveLimits(limits);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = findEocd(bytes, view);
  const entries = readCentralDirectory(bytes, view, eocd, effective);
  checkSizes(entries, effective);
  const extents = entries.map((entry) => readLocalHeader(bytes, view, entry, eocd.cdOffset));
  checkNoOverlap(extents);
  const result = new Map<string, Uint8Array>();
  for (const extent of extents) result.set(extent.entry.name, extractEntry(bytes, extent, codec));
  return result;
}

function resolveLimits(limits: Partial<ZipLimits> | undefined): ZipLimits {
  const resolved: ZipLimits = { ...DEFAULT_ZIP_LIMITS };
  for (const key of Object.keys(DEFAULT_ZIP_LIMITS) as (keyof ZipLimits)[]) {
    const value: unknown = limits?.[key];
    if (value === undefined) continue;
    // A NaN limit would make every comparison false and silently disable the check.
    if (typeof value !== 'number' || !(value >= 0)) throw new RangeError(`zip limit ${key} must be a non-negative number, got ${typeof value === 'number' ? String(value) : typeof value}`);
    resolved[key] = value;
  }
  return resolved;
}

function malformed(message: string, entry?: string): FormatError {
  return new FormatError('zip-malformed', message, entry === undefined ? {} : { entry });
}

function zip64(where: string, entry?: string): FormatError {
  return new FormatError('zip-unsupported', `${where} uses ZIP64, which is not supported`, entry === undefined ? {} : { entry });
}

/**
 * APPNOTE 4.3.16: the EOCD record is the last thing in the file, followed only
 * by its comment (up to 65535 bytes), so scan backwards for a signature whose
 * comment length reaches exactly to the end of the file. If more than one
 * candidate fits (a fake record hidden in the comment), tools could disagree
 * about the contents, so refuse.
 */
function findEocd(bytes: Uint8Array, view: DataView): Eocd {
  if (bytes.length < EOCD_SIZE) throw malformed(`not a zip: ${bytes.length} bytes is too short for an end of central directory record`);
  const last = bytes.length - EOCD_SIZE;
  const first = Math.max(0, last - MAX_COMMENT_LENGTH);
  let found = -1;
  for (let p = last; p >= first; p--) {
    if (view.getUint32(p, true) !== EOCD_SIG) continue;
    if (view.getUint16(p + 20, true) !== bytes.length - p - EOCD_SIZE) continue;
    if (found !== -1) throw malformed(`zip has two end of central directory records (at ${p} and ${found}); refusing an ambiguous file`);
    found = p;
  }
  if (found === -1) throw malformed('not a zip, or truncated: no end of central directory record found');
  return parseEocd(view, found);
}

function parseEocd(view: DataView, p: number): Eocd {
  const disk = view.getUint16(p + 4, true);
  const cdDisk = view.getUint16(p + 6, true);
  const entriesOnDisk = view.getUint16(p + 8, true);
  const entryCount = view.getUint16(p + 10, true);
  const cdSize = view.getUint32(p + 12, true);
  const cdOffset = view.getUint32(p + 16, true);
  // APPNOTE 4.3.15: a ZIP64 archive puts a locator right before the EOCD record.
  const hasZip64Locator = p >= ZIP64_EOCD_LOCATOR_SIZE && view.getUint32(p - ZIP64_EOCD_LOCATOR_SIZE, true) === ZIP64_EOCD_LOCATOR_SIG;
  const hasZip64Marker =
    disk === ZIP64_MARKER_16 ||
    cdDisk === ZIP64_MARKER_16 ||
    entriesOnDisk === ZIP64_MARKER_16 ||
    entryCount === ZIP64_MARKER_16 ||
    cdSize === ZIP64_MARKER_32 ||
    cdOffset === ZIP64_MARKER_32;
  if (hasZip64Locator || hasZip64Marker) throw zip64('zip end of central directory record');
  if (disk !== 0 || cdDisk !== 0 || entriesOnDisk !== entryCount) {
    throw new FormatError('zip-unsupported', `zip spans several disks (disk ${disk}, central directory on disk ${cdDisk}); multi-disk zips are not supported`);
  }
  if (cdOffset > p || cdSize > p - cdOffset) {
    throw malformed(`zip central directory (offset ${cdOffset}, ${cdSize} bytes) lies outside the ${p} bytes before the end of central directory record`);
  }
  // Nothing may hide between the central directory and the EOCD record (ZIP64 records would, but are refused).
  if (cdOffset + cdSize !== p) {
    throw malformed(`zip central directory ends at ${cdOffset + cdSize}, but the end of central directory record starts at ${p}`);
  }
  return { offset: p, entryCount, cdOffset, cdSize };
}

/** APPNOTE 4.3.12: parses and validates every central directory record. */
function readCentralDirectory(bytes: Uint8Array, view: DataView, eocd: Eocd, limits: ZipLimits): CentralEntry[] {
  if (eocd.entryCount > limits.maxEntries) {
    // A resource limit rather than a structural defect: huge entry counts are a denial-of-service trick.
    throw new FormatError(
      'zip-bomb',
      `zip has ${eocd.entryCount} entries, over the limit of ${limits.maxEntries} (refused before reading them, as a resource-exhaustion guard)`,
    );
  }
  const names = new NameSet();
  const entries: CentralEntry[] = [];
  const end = eocd.cdOffset + eocd.cdSize;
  let p = eocd.cdOffset;
  for (let index = 0; index < eocd.entryCount; index++) {
    if (end - p < CENTRAL_HEADER_SIZE || view.getUint32(p, true) !== CENTRAL_HEADER_SIG) {
      throw malformed(`zip central directory holds fewer records than the ${eocd.entryCount} its end record declares (record ${index + 1} is missing or damaged)`);
    }
    const recordSize = CENTRAL_HEADER_SIZE + view.getUint16(p + 28, true) + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
    if (recordSize > end - p) throw malformed(`zip central directory record ${index + 1} runs past the end of the central directory`);
    const entry = parseCentralRecord(bytes, view, p, index);
    names.add(entry.name);
    entries.push(entry);
    p += recordSize;
  }
  if (p !== end) {
    throw malformed(`zip central directory has ${end - p} bytes after its ${eocd.entryCount} declared records (the entry count does not match)`);
  }
  return entries;
}

function parseCentralRecord(bytes: Uint8Array, view: DataView, p: number, index: number): CentralEntry {
  const versionMadeBy = view.getUint16(p + 4, true);
  const flags = view.getUint16(p + 8, true);
  const method = view.getUint16(p + 10, true);
  const crc = view.getUint32(p + 16, true);
  const compressedSize = view.getUint32(p + 20, true);
  const size = view.getUint32(p + 24, true);
  const nameLength = view.getUint16(p + 28, true);
  const extraLength = view.getUint16(p + 30, true);
  const diskStart = view.getUint16(p + 34, true);
  const externalAttributes = view.getUint32(p + 38, true);
  const localOffset = view.getUint32(p + 42, true);
  const nameBytes = bytes.subarray(p + CENTRAL_HEADER_SIZE, p + CENTRAL_HEADER_SIZE + nameLength);
  const extra = bytes.subarray(p + CENTRAL_HEADER_SIZE + nameLength, p + CENTRAL_HEADER_SIZE + nameLength + extraLength);

  const name = decodeName(nameBytes, index);
  if (compressedSize === ZIP64_MARKER_32 || size === ZIP64_MARKER_32 || localOffset === ZIP64_MARKER_32 || diskStart === ZIP64_MARKER_16) {
    throw zip64(`zip entry ${quote(name)}`, name);
  }
  if (diskStart !== 0) {
    throw new FormatError('zip-unsupported', `zip entry ${quote(name)} starts on disk ${diskStart}; multi-disk zips are not supported`, { entry: name });
  }
  checkFlagsAndMethod(name, flags, method);
  checkExtraField(name, extra, 'central directory');
  checkName(name, nameBytes.length);
  checkFileType(name, versionMadeBy >>> 8, externalAttributes);
  if (method === METHOD_STORED && compressedSize !== size) {
    throw malformed(`zip entry ${quote(name)} is stored but declares ${compressedSize} bytes stored and ${size} bytes uncompressed`, name);
  }
  return { index, name, nameBytes, flags, method, crc, compressedSize, size, localOffset };
}

/** Names must be UTF-8 whatever bit 11 says: other code pages would make names tool-dependent. */
function decodeName(nameBytes: Uint8Array, index: number): string {
  try {
    return strictUtf8.decode(nameBytes);
  } catch {
    const shown = lossyUtf8.decode(nameBytes);
    throw new FormatError('zip-unsafe-path', `zip entry ${quote(shown)} (central directory record ${index + 1}) has a name that is not valid UTF-8`, {
      entry: shown,
    });
  }
}

function checkFlagsAndMethod(name: string, flags: number, method: number): void {
  if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_CENTRAL_DIRECTORY_ENCRYPTED)) {
    throw new FormatError('zip-unsupported', `zip entry ${quote(name)} is encrypted; encrypted zips are not supported`, { entry: name });
  }
  if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
    throw new FormatError(
      'zip-unsupported',
      `zip entry ${quote(name)} uses compression method ${method}; only stored (0) and deflate (8) are supported`,
      { entry: name },
    );
  }
}

/**
 * APPNOTE 4.5.1: the extra field is a list of (id, size, data) records. ZIP64
 * data is refused, and so is the Info-ZIP Unicode Path field (4.6.9), which
 * other tools use *instead of* the header name: an entry could look like
 * `a.txt` here and `../a.txt` to unzip.
 */
function checkExtraField(name: string, extra: Uint8Array, where: string): void {
  const view = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  let p = 0;
  while (p < extra.length) {
    if (extra.length - p < 4) throw malformed(`zip entry ${quote(name)} has a truncated extra field in its ${where} record`, name);
    const id = view.getUint16(p, true);
    const size = view.getUint16(p + 2, true);
    if (size > extra.length - p - 4) throw malformed(`zip entry ${quote(name)} has an extra field that overruns its ${where} record`, name);
    if (id === EXTRA_ZIP64) throw zip64(`zip entry ${quote(name)}`, name);
    if (id === EXTRA_UNICODE_PATH) {
      throw new FormatError('zip-unsupported', `zip entry ${quote(name)} carries a second (Unicode path) name, which is not supported`, { entry: name });
    }
    p += 4 + size;
  }
}

/** APPNOTE 4.4.15: on Unix hosts the upper 16 bits of the external attributes are st_mode. */
function checkFileType(name: string, host: number, externalAttributes: number): void {
  if (UNIX_MODE_HOSTS.has(host)) {
    const mode = externalAttributes >>> 16;
    const type = mode & S_IFMT;
    if (type === S_IFLNK) {
      throw new FormatError(
        'zip-symlink',
        `zip entry ${quote(name)} is a symbolic link (mode ${mode.toString(8)}); bundles may only contain regular files`,
        { entry: name },
      );
    }
    if (type === S_IFDIR) {
      throw new FormatError('zip-unsupported', `zip entry ${quote(name)} is a directory entry; bundles contain only files`, { entry: name });
    }
    // 0 means "not recorded", which some writers leave; anything else is a device, FIFO or socket.
    if (type !== 0 && type !== S_IFREG) {
      throw new FormatError('zip-unsupported', `zip entry ${quote(name)} is a special file (mode ${mode.toString(8)}), not a regular file`, { entry: name });
    }
  }
  if ((UNIX_MODE_HOSTS.has(host) || MSDOS_ATTRIBUTE_HOSTS.has(host)) && externalAttributes & MSDOS_DIRECTORY_ATTRIBUTE) {
    throw new FormatError('zip-unsupported', `zip entry ${quote(name)} is a directory entry; bundles contain only files`, { entry: name });
  }
}

function exceedsRatio(size: number, compressedSize: number, maxRatio: number): boolean {
  return size > RATIO_CHECK_THRESHOLD && size > compressedSize * maxRatio;
}

/** Refuses zip bombs by their declared sizes, before anything is allocated or inflated. */
function checkSizes(entries: readonly CentralEntry[], limits: ZipLimits): void {
  let total = 0;
  for (const entry of entries) {
    const name = entry.name;
    if (entry.size > limits.maxEntryBytes) {
      throw new FormatError('zip-bomb', `zip entry ${quote(name)} declares ${entry.size} bytes, over the ${limits.maxEntryBytes}-byte cap`, { entry: name });
    }
    if (exceedsRatio(entry.size, entry.compressedSize, limits.maxRatio)) {
      const ratio = entry.compressedSize === 0 ? 'infinite' : `${Math.round(entry.size / entry.compressedSize)}:1`;
      throw new FormatError(
        'zip-bomb',
        `zip entry ${quote(name)} declares ${entry.size} bytes from ${entry.compressedSize} compressed bytes (ratio ${ratio}, over the ${limits.maxRatio}:1 limit)`,
        { entry: name },
      );
    }
    total += entry.size;
    if (total > limits.maxTotalBytes) {
      throw new FormatError(
        'zip-bomb',
        `zip entry ${quote(name)} brings the total uncompressed size to ${total} bytes, over the ${limits.maxTotalBytes}-byte cap`,
        { entry: name },
      );
    }
  }
}

/**
 * APPNOTE 4.3.7: finds the local header the central record points at and
 * checks it agrees with the central record, so that tools reading either one
 * see the same entry.
 */
function readLocalHeader(bytes: Uint8Array, view: DataView, entry: CentralEntry, cdOffset: number): EntryExtent {
  const name = entry.name;
  const start = entry.localOffset;
  if (start > cdOffset || cdOffset - start < LOCAL_HEADER_SIZE) {
    throw malformed(`zip entry ${quote(name)} points at offset ${start}, where there is no room for a local header before the central directory`, name);
  }
  if (view.getUint32(start, true) !== LOCAL_HEADER_SIG) {
    throw malformed(`zip entry ${quote(name)} has no local header at offset ${start}`, name);
  }
  const flags = view.getUint16(start + 6, true);
  const method = view.getUint16(start + 8, true);
  const nameLength = view.getUint16(start + 26, true);
  const extraLength = view.getUint16(start + 28, true);
  const dataStart = start + LOCAL_HEADER_SIZE + nameLength + extraLength;
  if (dataStart > cdOffset) throw malformed(`zip entry ${quote(name)} has a local header that runs into the central directory`, name);

  const localName = bytes.subarray(start + LOCAL_HEADER_SIZE, start + LOCAL_HEADER_SIZE + nameLength);
  if (!sameBytes(localName, entry.nameBytes)) {
    throw malformed(`zip entry ${quote(name)} is called ${quote(lossyUtf8.decode(localName))} in its local header`, name);
  }
  checkFlagsAndMethod(name, flags, method);
  if (method !== entry.method) {
    throw malformed(`zip entry ${quote(name)} has compression method ${method} in its local header but ${entry.method} in the central directory`, name);
  }
  checkExtraField(name, bytes.subarray(start + LOCAL_HEADER_SIZE + nameLength, dataStart), 'local header');
  // With bit 3 set the local CRC and sizes are zero and live in a data descriptor after the data (APPNOTE 4.3.9).
  if (!(flags & FLAG_DATA_DESCRIPTOR)) {
    const localCrc = view.getUint32(start + 14, true);
    const localCompressed = view.getUint32(start + 18, true);
    const localSize = view.getUint32(start + 22, true);
    if (localCrc !== entry.crc || localCompressed !== entry.compressedSize || localSize !== entry.size) {
      throw malformed(`zip entry ${quote(name)} has a different CRC or size in its local header than in the central directory`, name);
    }
  }
  if (entry.compressedSize > cdOffset - dataStart) {
    throw malformed(`zip entry ${quote(name)} has ${entry.compressedSize} bytes of data, which run past the start of the central directory`, name);
  }
  return { entry, start, dataStart, end: dataStart + entry.compressedSize };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Entries whose bytes overlap let a small file expand many times over
 * (overlapping-file zip bombs, Fifield 2019), and let two tools see different
 * contents. Each entry must own its local header and data.
 */
function checkNoOverlap(extents: readonly EntryExtent[]): void {
  const sorted = [...extents].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as EntryExtent;
    const current = sorted[i] as EntryExtent;
    if (current.start < previous.end) {
      const name = current.entry.name;
      throw new FormatError(
        'zip-bomb',
        `zip entry ${quote(name)} overlaps zip entry ${quote(previous.entry.name)} (overlapping entries are a zip-bomb technique)`,
        { entry: name },
      );
    }
  }
}

function extractEntry(bytes: Uint8Array, extent: EntryExtent, codec: ZipCodec | undefined): Uint8Array {
  const { entry } = extent;
  const compressed = bytes.subarray(extent.dataStart, extent.end);
  // Stored data is copied so the result does not alias (or keep alive) the caller's buffer.
  const data =
    entry.method === METHOD_STORED
      ? compressed.slice()
      : codec === undefined
        ? inflateExactly(compressed, entry.size, entry.name)
        : inflateWithCodec(codec, compressed, entry.size, entry.name);
  const actual = codec === undefined ? crc32(data) : codec.crc32(data);
  if (actual !== entry.crc) {
    throw new FormatError(
      'zip-crc-mismatch',
      `zip entry ${quote(entry.name)} is corrupt: its CRC-32 is ${hex32(actual)} but the zip says ${hex32(entry.crc)}`,
      { entry: entry.name },
    );
  }
  return data;
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/**
 * A native inflater and CRC-32 (node:zlib) that a caller may lend readZip: the
 * pure-JS defaults run everywhere but several times slower. The codec must
 * stop at `limit` bytes of output and then answer 'too-large'.
 */
export interface ZipCodec {
  inflateRaw(compressed: Uint8Array, limit: number): Uint8Array | 'too-large';
  crc32(data: Uint8Array): number;
}

function inflateWithCodec(codec: ZipCodec, compressed: Uint8Array, size: number, name: string): Uint8Array {
  let out: Uint8Array | 'too-large';
  try {
    // One byte of headroom: a stream that fills it is longer than it declares.
    out = codec.inflateRaw(compressed, size + 1);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw malformed(`zip entry ${quote(name)} has corrupt deflate data (${reason})`, name);
  }
  if (out === 'too-large' || out.length > size) {
    throw new FormatError('zip-bomb', `zip entry ${quote(name)} inflates past the ${size}-byte size it declares (lying header)`, { entry: name });
  }
  if (out.length !== size) throw malformed(`zip entry ${quote(name)} inflates to ${out.length} bytes but declares ${size}`, name);
  return out;
}

const MIN_INFLATE_CHUNK = 1024;
const MAX_INFLATE_CHUNK = 64 * 1024;

/**
 * Inflates `compressed` into a buffer of exactly `size` bytes.
 *
 * fflate 0.8's `inflateSync(data, { out })` silently truncates when `out` is
 * too small (or throws a RangeError if a stored block overflows it) and keeps
 * decoding the rest of the stream, so it can neither detect a lying header
 * nor bound the work: a 1 MiB stream of zeros declaring 10 bytes would still
 * cost a full gigabyte of decoding. Instead the streaming `Inflate` is fed
 * small slices, and output is counted as it arrives: the first byte past
 * `size` stops everything. Slices shrink with the remaining budget (at most
 * budget/1032 bytes, since no slice can expand more than ~1032:1), so a lying
 * stream is stopped after at most about a megabyte of extra output, and
 * fflate's own working buffers stay within a small multiple of one slice's
 * output (at most ~66 MiB, for a 64 KiB slice).
 */
function inflateExactly(compressed: Uint8Array, size: number, name: string): Uint8Array {
  const out = new Uint8Array(size);
  let written = 0;
  const inflater = new Inflate((chunk) => {
    if (chunk.length > size - written) {
      throw new FormatError('zip-bomb', `zip entry ${quote(name)} inflates past the ${size}-byte size it declares (lying header)`, { entry: name });
    }
    out.set(chunk, written);
    written += chunk.length;
  });
  try {
    let p = 0;
    do {
      const budget = Math.floor((size - written) / DEFLATE_MAX_EXPANSION);
      const end = Math.min(compressed.length, p + Math.min(MAX_INFLATE_CHUNK, Math.max(MIN_INFLATE_CHUNK, budget)));
      inflater.push(compressed.subarray(p, end), end === compressed.length);
      p = end;
    } while (p < compressed.length);
  } catch (error) {
    if (error instanceof FormatError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw malformed(`zip entry ${quote(name)} has corrupt deflate data (${reason})`, name);
  }
  if (written !== size) {
    throw malformed(`zip entry ${quote(name)} inflates to ${written} bytes but declares ${size}`, name);
  }
  return out;
}
