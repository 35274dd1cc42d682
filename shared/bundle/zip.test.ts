import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { Deflate } from 'fflate';
import fc from 'fast-check';
import { FormatError, type FormatErrorCode } from './errors.ts';
import { catchFormatError } from './test-support.ts';
import { DEFAULT_ZIP_LIMITS, readZip, writeZip, type ZipLimits } from './zip.ts';

// ---------------------------------------------------------------------------
// A raw zip builder: lays out local headers, central directory and EOCD with
// any field overridable, so tests can build files no honest writer would.
// ---------------------------------------------------------------------------

const MiB = 1024 * 1024;
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const bytesOf = (name: string | Uint8Array): Uint8Array => (typeof name === 'string' ? utf8(name) : name);

interface RawEntry {
  /** name in the central directory */
  readonly name: string | Uint8Array;
  /** name in the local header; defaults to `name` */
  readonly localName?: string | Uint8Array;
  /** bytes placed after the local header, as stored (already compressed if method 8) */
  readonly data?: Uint8Array;
  /** the uncompressed content, for the default CRC and size of deflated entries */
  readonly plain?: Uint8Array;
  readonly method?: number;
  readonly flags?: number;
  readonly crc?: number;
  readonly compressedSize?: number;
  readonly size?: number;
  readonly versionMadeBy?: number;
  readonly externalAttributes?: number;
  readonly diskStart?: number;
  /** central directory offset of the local header; defaults to where it was laid out */
  readonly offset?: number;
  readonly centralExtra?: Uint8Array;
  readonly localExtra?: Uint8Array;
}

interface RawZipOptions {
  readonly entryCount?: number;
  readonly entriesOnDisk?: number;
  readonly disk?: number;
  readonly cdDisk?: number;
  readonly cdOffset?: number;
  readonly cdSize?: number;
  readonly comment?: Uint8Array;
}

function rawZip(entries: readonly RawEntry[], options: RawZipOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const push = (part: Uint8Array): void => {
    parts.push(part);
    offset += part.length;
  };
  const fields = entries.map((entry) => {
    const data = entry.data ?? new Uint8Array(0);
    const plain = entry.plain ?? data;
    return {
      name: bytesOf(entry.name),
      localName: bytesOf(entry.localName ?? entry.name),
      data,
      method: entry.method ?? 0,
      flags: entry.flags ?? 0,
      crc: entry.crc ?? crc32(plain),
      compressedSize: entry.compressedSize ?? data.length,
      size: entry.size ?? plain.length,
      versionMadeBy: entry.versionMadeBy ?? 0x0314,
      externalAttributes: entry.externalAttributes ?? ((0o100644 << 16) >>> 0),
      diskStart: entry.diskStart ?? 0,
      offsetOverride: entry.offset,
      centralExtra: entry.centralExtra ?? new Uint8Array(0),
      localExtra: entry.localExtra ?? new Uint8Array(0),
      offset: 0,
    };
  });
  for (const f of fields) {
    f.offset = f.offsetOverride ?? offset;
    const header = new DataView(new ArrayBuffer(30));
    header.setUint32(0, 0x04034b50, true);
    header.setUint16(4, 20, true);
    header.setUint16(6, f.flags, true);
    header.setUint16(8, f.method, true);
    header.setUint16(12, 0x21, true);
    header.setUint32(14, f.crc, true);
    header.setUint32(18, f.compressedSize, true);
    header.setUint32(22, f.size, true);
    header.setUint16(26, f.localName.length, true);
    header.setUint16(28, f.localExtra.length, true);
    push(new Uint8Array(header.buffer));
    push(f.localName);
    push(f.localExtra);
    push(f.data);
  }
  const cdStart = offset;
  for (const f of fields) {
    const header = new DataView(new ArrayBuffer(46));
    header.setUint32(0, 0x02014b50, true);
    header.setUint16(4, f.versionMadeBy, true);
    header.setUint16(6, 20, true);
    header.setUint16(8, f.flags, true);
    header.setUint16(10, f.method, true);
    header.setUint16(14, 0x21, true);
    header.setUint32(16, f.crc, true);
    header.setUint32(20, f.compressedSize, true);
    header.setUint32(24, f.size, true);
    header.setUint16(28, f.name.length, true);
    header.setUint16(30, f.centralExtra.length, true);
    header.setUint16(34, f.diskStart, true);
    header.setUint32(38, f.externalAttributes, true);
    header.setUint32(42, f.offset, true);
    push(new Uint8Array(header.buffer));
    push(f.name);
    push(f.centralExtra);
  }
  const cdSize = offset - cdStart;
  const comment = options.comment ?? new Uint8Array(0);
  const eocd = new DataView(new ArrayBuffer(22));
  eocd.setUint32(0, 0x06054b50, true);
  eocd.setUint16(4, options.disk ?? 0, true);
  eocd.setUint16(6, options.cdDisk ?? 0, true);
  eocd.setUint16(8, options.entriesOnDisk ?? options.entryCount ?? entries.length, true);
  eocd.setUint16(10, options.entryCount ?? entries.length, true);
  eocd.setUint32(12, options.cdSize ?? cdSize, true);
  eocd.setUint32(16, options.cdOffset ?? cdStart, true);
  eocd.setUint16(20, comment.length, true);
  push(new Uint8Array(eocd.buffer));
  push(comment);
  return concat(parts);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function stored(name: string | Uint8Array, text = 'hello'): RawEntry {
  return { name, data: utf8(text) };
}

function deflated(name: string, plain: Uint8Array): RawEntry & { readonly data: Uint8Array } {
  return { name, method: 8, data: deflateRawSync(plain), plain };
}

/**
 * Asserts `fn` throws a FormatError with `code` whose message quotes `entry`
 * (and records it as the location), or, for file-level errors, matches `pattern`.
 */
function assertZipError(fn: () => unknown, code: FormatErrorCode, entry?: string, pattern?: RegExp): FormatError {
  const caught = catchFormatError(fn);
  assert.equal(caught.code, code, caught.message);
  if (entry !== undefined) {
    assert.ok(caught.message.includes(JSON.stringify(entry)), `message should name ${JSON.stringify(entry)}: ${caught.message}`);
    assert.equal(caught.location.entry, entry);
  }
  if (pattern !== undefined) assert.match(caught.message, pattern);
  return caught;
}

/**
 * A raw deflate stream of `mib` MiB of zeros, built by streaming zeros through
 * fflate's `Deflate`. After a sync flush the stream is byte aligned and the
 * window is all zeros, so the segment for one steady-state MiB decodes the
 * same anywhere after the first: repeating it gives a real, honest stream of
 * any length without deflating gigabytes in the test (checked below against zlib).
 */
function zeroStream(mib: number): Uint8Array {
  const segments: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  const deflate = new Deflate({ level: 6 }, (chunk) => current.push(chunk));
  const zeros = new Uint8Array(MiB);
  for (let i = 0; i < 2; i++) {
    deflate.push(zeros, false);
    deflate.flush(true);
    segments.push(current);
    current = [];
  }
  deflate.push(new Uint8Array(0), true);
  const first = concat(segments[0] ?? []);
  const steady = concat(segments[1] ?? []);
  const final = concat(current);
  return concat([first, ...Array.from({ length: mib - 1 }, () => steady), final]);
}

// ---------------------------------------------------------------------------
// Writer and round trips
// ---------------------------------------------------------------------------

describe('writeZip / readZip round trip', () => {
  const binary = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7919 + (i >> 3)) & 0xff);
  const text = utf8('{"version":2,"width":80}\n'.repeat(5000));
  const entries = [
    { name: 'manifest.dsse.json', data: text },
    { name: 'recording/session.cast', data: binary, compress: false },
    { name: 'empty', data: new Uint8Array(0) },
    { name: 'empty-stored', data: new Uint8Array(0), compress: false },
    { name: 'keys/ünïcödé.json', data: utf8('{}') },
    { name: 'recording/binary.bin', data: binary },
  ] as const;

  test('returns every entry, byte for byte, in central directory order', () => {
    const result = readZip(writeZip(entries));
    assert.deepEqual([...result.keys()], entries.map((e) => e.name));
    for (const entry of entries) assert.deepEqual(result.get(entry.name), entry.data);
  });

  test('deflates when asked and it helps, stores otherwise', () => {
    const zip = writeZip([
      { name: 'text', data: text },
      { name: 'raw', data: text, compress: false },
    ]);
    const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
    assert.equal(view.getUint16(8, true), 8, 'first entry is deflated');
    assert.ok(zip.length < text.length * 1.1, 'the deflated entry is smaller');
    const secondOffset = 30 + 4 + view.getUint32(18, true);
    assert.equal(view.getUint32(secondOffset, true), 0x04034b50);
    assert.equal(view.getUint16(secondOffset + 8, true), 0, 'second entry is stored');
    assert.deepEqual(readZip(zip).get('raw'), text);
  });

  test('a highly repetitive entry is stored rather than deflated past the reader ratio limit', () => {
    const zeros = new Uint8Array(4 * MiB);
    const zip = writeZip([{ name: 'zeros', data: zeros }]);
    assert.deepEqual(readZip(zip).get('zeros'), zeros);
  });

  test('an empty archive round trips', () => {
    const zip = writeZip([]);
    assert.equal(zip.length, 22);
    assert.equal(readZip(zip).size, 0);
  });

  test('is deterministic: same input, same bytes, fixed 1980-01-01 00:00 timestamp', () => {
    const a = writeZip(entries);
    const b = writeZip(entries.map((e) => ({ ...e, data: e.data.slice() })));
    assert.deepEqual(a, b);
    const view = new DataView(a.buffer, a.byteOffset, a.byteLength);
    assert.equal(view.getUint16(10, true), 0, 'DOS time 00:00:00');
    assert.equal(view.getUint16(12, true), 0x21, 'DOS date 1980-01-01');
    assert.equal(view.getUint16(28, true), 0, 'no extra field');
  });

  test('readZip copies data rather than aliasing the input', () => {
    const zip = writeZip([{ name: 'a', data: utf8('abc'), compress: false }]);
    const data = readZip(zip).get('a');
    assert.ok(data);
    data[0] = 0x7a;
    assert.deepEqual(readZip(zip).get('a'), utf8('abc'));
  });

  test('reads zips from other writers (zlib deflate, data descriptor flag, comment)', () => {
    const plain = utf8('hello hello hello hello');
    const zip = rawZip([{ ...deflated('a.txt', plain), flags: 0x0008 | 0x0800 }, stored('b.txt', 'bee')], { comment: utf8('a comment') });
    const result = readZip(zip);
    assert.deepEqual(result.get('a.txt'), plain);
    assert.deepEqual(result.get('b.txt'), utf8('bee'));
  });

  test('Info-ZIP unzip accepts the output', (t) => {
    if (spawnSync('unzip', ['-v']).status !== 0) {
      t.skip('unzip is not installed');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'custody-zip-'));
    try {
      const file = join(dir, 'bundle.custody');
      writeFileSync(file, writeZip(entries));
      const check = spawnSync('unzip', ['-t', '-q', file], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
      const listed = spawnSync('unzip', ['-p', file, 'recording/binary.bin']);
      assert.deepEqual(new Uint8Array(listed.stdout), binary);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refuses to write what the reader would refuse', () => {
    const data = utf8('x');
    for (const name of ['../evil', '/abs', 'C:/x', 'a\\b', 'dir/', 'a//b', '', 'nul\u0000', '\ud800']) {
      assert.throws(() => writeZip([{ name, data }]), FormatError, JSON.stringify(name));
    }
    assertZipError(() => writeZip([{ name: 'a', data }, { name: 'a', data }]), 'zip-duplicate-entry', 'a', /listed twice/);
    assertZipError(() => writeZip([{ name: 'Read.me', data }, { name: 'read.ME', data }]), 'zip-duplicate-entry', 'read.ME');
    const many = Array.from({ length: DEFAULT_ZIP_LIMITS.maxEntries + 1 }, (_, i) => ({ name: `f${i}`, data }));
    assertZipError(() => writeZip(many), 'zip-bomb', undefined, /at most 64/);
  });

  test('default limits', () => {
    assert.deepEqual({ ...DEFAULT_ZIP_LIMITS }, {
      maxEntries: 64,
      maxEntryBytes: 2 ** 31 - 1,
      maxTotalBytes: 2 ** 32,
      maxRatio: 1100,
    } satisfies ZipLimits);
    assert.throws(() => readZip(writeZip([]), { maxRatio: Number.NaN }), RangeError);
  });
});

// ---------------------------------------------------------------------------
// Hostile input: one test per trick
// ---------------------------------------------------------------------------

describe('readZip refuses hostile names', () => {
  test('".." segments escape the bundle', () => {
    for (const name of ['../../etc/passwd', 'a/../../b', 'recording/..', '..']) {
      assertZipError(() => readZip(rawZip([stored('ok'), stored(name)])), 'zip-unsafe-path', name, /escapes the bundle \(path contains "\.\."\)/);
    }
  });

  test('absolute paths', () => {
    for (const name of ['/etc/passwd', 'C:x', 'C:/Windows/win.ini', 'c:evil']) {
      assertZipError(() => readZip(rawZip([stored(name)])), 'zip-unsafe-path', name, /absolute/);
    }
  });

  test('backslashes, including UNC paths', () => {
    for (const name of ['a\\b', '\\\\server\\share', '..\\..\\evil']) {
      assertZipError(() => readZip(rawZip([stored(name)])), 'zip-unsafe-path', name, /backslash/);
    }
  });

  test('NUL and control characters, empty names and segments, "." segments, colons, long names', () => {
    const cases: [string, RegExp][] = [
      ['a\u0000.txt', /control character/],
      ['a\nb', /control character/],
      ['', /empty name/],
      ['a//b', /empty path segment/],
      ['./a', /"\." path segment/],
      ['file.txt:stream', /alternate data stream/],
      ['x'.repeat(513), /513-byte name/],
    ];
    for (const [name, pattern] of cases) {
      assertZipError(() => readZip(rawZip([stored(name)])), 'zip-unsafe-path', name, pattern);
    }
    assert.equal(readZip(rawZip([stored('x'.repeat(512))])).size, 1);
  });

  test('names that are not valid UTF-8', () => {
    const name = Uint8Array.of(0x61, 0xff, 0x62);
    const error = assertZipError(() => readZip(rawZip([stored(name)])), 'zip-unsafe-path', 'a\ufffdb', /not valid UTF-8/);
    assert.match(error.message, /record 1/);
  });

  test('directory entries', () => {
    assertZipError(() => readZip(rawZip([stored('recording/', '')])), 'zip-unsupported', 'recording/', /directory/);
    const unixDir = { ...stored('recording', ''), externalAttributes: ((0o040755 << 16) | 0x10) >>> 0 };
    assertZipError(() => readZip(rawZip([unixDir])), 'zip-unsupported', 'recording', /directory/);
    const dosDir = { ...stored('recording', ''), versionMadeBy: 0x0014, externalAttributes: 0x10 };
    assertZipError(() => readZip(rawZip([dosDir])), 'zip-unsupported', 'recording', /directory/);
  });

  test('symbolic links', () => {
    const link = { ...stored('recording/session.cast', '/etc/shadow'), versionMadeBy: 0x031e, externalAttributes: (0o120777 << 16) >>> 0 };
    assertZipError(() => readZip(rawZip([link])), 'zip-symlink', 'recording/session.cast', /symbolic link/);
    // The same attributes from a non-Unix host mean nothing.
    assert.equal(readZip(rawZip([{ ...link, versionMadeBy: 0x0014 }])).size, 1);
  });

  test('duplicate names', () => {
    assertZipError(() => readZip(rawZip([stored('a', 'one'), stored('a', 'two')])), 'zip-duplicate-entry', 'a', /zip entry "a" is listed twice/);
  });

  test('names equal ignoring case (or Unicode normalization)', () => {
    assertZipError(
      () => readZip(rawZip([stored('recording/session.cast'), stored('Recording/Session.CAST')])),
      'zip-duplicate-entry',
      'Recording/Session.CAST',
      /collides with "recording\/session.cast"/,
    );
    assertZipError(() => readZip(rawZip([stored('caf\u00e9'), stored('cafe\u0301')])), 'zip-duplicate-entry', 'cafe\u0301');
  });

  test('a second name in an Info-ZIP Unicode Path extra field', () => {
    const extra = concat([Uint8Array.of(0x75, 0x70, 12, 0, 1, 0, 0, 0, 0), utf8('../evil')]);
    assertZipError(() => readZip(rawZip([{ ...stored('a.txt'), centralExtra: extra }])), 'zip-unsupported', 'a.txt', /Unicode path/);
  });
});

describe('readZip refuses unsupported features', () => {
  test('encrypted entries (general purpose bit 0)', () => {
    assertZipError(() => readZip(rawZip([{ ...stored('secret'), flags: 0x0001 }])), 'zip-unsupported', 'secret', /encrypted/);
  });

  test('compression methods other than stored and deflate', () => {
    for (const method of [12, 14, 93, 99]) {
      assertZipError(() => readZip(rawZip([{ ...stored('data.bz2'), method }])), 'zip-unsupported', 'data.bz2', new RegExp(`method ${method}`));
    }
  });

  test('ZIP64 markers in an entry, in the end record, or as an extra field', () => {
    assertZipError(() => readZip(rawZip([{ ...stored('big'), size: 0xffffffff }])), 'zip-unsupported', 'big', /ZIP64.*not supported/);
    assertZipError(() => readZip(rawZip([{ ...stored('big'), offset: 0xffffffff }])), 'zip-unsupported', 'big', /ZIP64/);
    const zip64Extra = Uint8Array.of(0x01, 0x00, 8, 0, 5, 0, 0, 0, 0, 0, 0, 0);
    assertZipError(() => readZip(rawZip([{ ...stored('big'), centralExtra: zip64Extra }])), 'zip-unsupported', 'big', /ZIP64/);
    assertZipError(() => readZip(rawZip([stored('a')], { entryCount: 0xffff })), 'zip-unsupported', undefined, /ZIP64.*not supported/);
    assertZipError(() => readZip(rawZip([stored('a')], { cdOffset: 0xffffffff })), 'zip-unsupported', undefined, /ZIP64/);
  });

  test('multi-disk archives', () => {
    assertZipError(() => readZip(rawZip([stored('a')], { disk: 1, cdDisk: 1 })), 'zip-unsupported', undefined, /multi-disk/);
    assertZipError(() => readZip(rawZip([{ ...stored('a'), diskStart: 2 }])), 'zip-unsupported', 'a', /multi-disk/);
  });
});

describe('readZip refuses malformed structure', () => {
  const valid = writeZip([
    { name: 'manifest.dsse.json', data: utf8('{"payload":"x"}') },
    { name: 'recording/session.cast', data: utf8('[0.1,"o","hi"]\n'.repeat(100)) },
  ]);

  test('truncated files, wherever they are cut', () => {
    assertZipError(() => readZip(valid.subarray(0, valid.length - 1)), 'zip-malformed', undefined, /no end of central directory/);
    for (let length = 0; length < valid.length; length++) {
      assert.throws(() => readZip(valid.subarray(0, length)), FormatError);
    }
    // Cut from the front: every offset now points at the wrong place.
    assertZipError(() => readZip(valid.subarray(10)), 'zip-malformed');
  });

  test('garbage bytes', () => {
    assertZipError(() => readZip(new Uint8Array(0)), 'zip-malformed', undefined, /too short/);
    const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
    assertZipError(() => readZip(garbage), 'zip-malformed', undefined, /no end of central directory/);
    assertZipError(() => readZip(concat([garbage, valid])), 'zip-malformed');
  });

  test('an end record that points outside the file', () => {
    assertZipError(() => readZip(rawZip([stored('a')], { cdOffset: 1_000_000 })), 'zip-malformed', undefined, /outside/);
    assertZipError(() => readZip(rawZip([stored('a')], { cdSize: 1_000_000 })), 'zip-malformed', undefined, /outside/);
  });

  test('an entry count that does not match the central directory', () => {
    assertZipError(() => readZip(rawZip([stored('a'), stored('b')], { entryCount: 1 })), 'zip-malformed', undefined, /entry count/);
    assertZipError(() => readZip(rawZip([stored('a')], { entryCount: 2 })), 'zip-malformed', undefined, /fewer records/);
  });

  test('two end records (a fake one hidden in the comment)', () => {
    const inner = rawZip([stored('a')]);
    const fake = inner.slice(inner.length - 22);
    const zip = rawZip([stored('a')], { comment: fake });
    assertZipError(() => readZip(zip), 'zip-malformed', undefined, /two end of central directory records/);
  });

  test('a local header that is missing or names another file', () => {
    assertZipError(() => readZip(rawZip([{ ...stored('a'), offset: 5 }])), 'zip-malformed', 'a', /no local header/);
    assertZipError(
      () => readZip(rawZip([{ ...stored('recording/session.cast'), localName: '../../etc/passwd' }])),
      'zip-malformed',
      'recording/session.cast',
      /is called "..\/..\/etc\/passwd" in its local header/,
    );
  });

  test('a local header that disagrees with the central directory', () => {
    const zip = rawZip([stored('a', 'abc')]);
    zip[8] = 8; // local method: deflate
    assertZipError(() => readZip(zip), 'zip-malformed', 'a', /method/);
    const sized = rawZip([stored('a', 'abc')]);
    sized[22] = 99; // local uncompressed size
    assertZipError(() => readZip(sized), 'zip-malformed', 'a', /local header/);
  });

  test('entry data that runs into the central directory', () => {
    assertZipError(() => readZip(rawZip([{ ...stored('a', 'abc'), compressedSize: 50, size: 50 }])), 'zip-malformed', 'a', /central directory/);
  });

  test('overlapping entries (Fifield-style bomb)', () => {
    // "b" is laid out normally; "a" declares stored data that covers b's header and data.
    const b = stored('b', 'payload');
    const bRecord = 30 + 1 + 7;
    const layout = rawZip([stored('a', ''), b]);
    const bBytes = layout.subarray(31, 31 + bRecord);
    const a: RawEntry = { name: 'a', data: new Uint8Array(0), compressedSize: bRecord, size: bRecord, crc: crc32(bBytes) };
    assertZipError(() => readZip(rawZip([a, b])), 'zip-bomb', 'b', /overlaps zip entry "a"/);
  });

  test('two entries pointing at the same local header', () => {
    const zip = rawZip([stored('a'), { ...stored('a'), offset: 0 }]);
    assert.throws(() => readZip(zip), FormatError);
  });

  test('CRC mismatch', () => {
    assertZipError(() => readZip(rawZip([{ ...stored('a', 'abc'), crc: 0x12345678 }])), 'zip-crc-mismatch', 'a', /CRC-32/);
    const plain = utf8('recorded output '.repeat(100));
    assertZipError(() => readZip(rawZip([{ ...deflated('b', plain), crc: 1 }])), 'zip-crc-mismatch', 'b');
  });

  test('corrupt deflate data', () => {
    const entry = { ...deflated('recording/session.cast', utf8('x')), data: Uint8Array.of(0xff, 0xff, 0xff, 0xff) };
    assertZipError(() => readZip(rawZip([entry])), 'zip-malformed', 'recording/session.cast', /corrupt deflate data/);
    const truncatedStream = deflated('t', utf8('some text that compresses a little, some text'));
    const cut = { ...truncatedStream, data: truncatedStream.data.subarray(0, 5) };
    assertZipError(() => readZip(rawZip([cut])), 'zip-malformed', 't');
  });

  test('a stream that inflates to fewer bytes than declared', () => {
    assertZipError(() => readZip(rawZip([{ ...deflated('short', utf8('abc')), size: 10 }])), 'zip-malformed', 'short', /inflates to 3 bytes but declares 10/);
  });

  test('stored entries whose sizes disagree', () => {
    assertZipError(() => readZip(rawZip([{ ...stored('a', 'abc'), size: 2 }])), 'zip-malformed', 'a', /stored/);
  });
});

describe('readZip refuses zip bombs', () => {
  test('the zero-stream builder makes honest deflate streams', () => {
    const inflated = inflateRawSync(zeroStream(5));
    assert.equal(inflated.length, 5 * MiB);
    assert.ok(inflated.every((b) => b === 0));
  });

  test('a real deflate bomb is refused by ratio and caps before inflating', () => {
    // 2047 MiB of zeros deflates to ~2 MiB: under the per-entry cap, over a 1000:1 ratio limit.
    const mib = 2047;
    const stream = zeroStream(mib);
    const plainSize = mib * MiB;
    const crc = 0; // never checked: the bomb must be refused before inflating
    const bomb = (name: string): RawEntry => ({ name, method: 8, data: stream, size: plainSize, crc });
    const before = process.memoryUsage().arrayBuffers;
    assertZipError(
      () => readZip(rawZip([bomb('recording/session.cast')]), { maxRatio: 1000 }),
      'zip-bomb',
      'recording/session.cast',
      /ratio \d+:1, over the 1000:1 limit/,
    );
    assertZipError(
      () => readZip(rawZip([bomb('recording/session.cast')]), { maxRatio: 2000, maxEntryBytes: 1024 * MiB }),
      'zip-bomb',
      'recording/session.cast',
      /over the 1073741824-byte cap/,
    );
    assertZipError(
      () => readZip(rawZip([bomb('a'), bomb('b'), bomb('c')]), { maxRatio: 2000 }),
      'zip-bomb',
      'c',
      /total uncompressed size .* over the 4294967296-byte cap/,
    );
    // 2048 MiB does not fit in the default per-entry cap (2 GiB - 1).
    const bigger = { ...bomb('x'), data: zeroStream(2048), size: 2048 * MiB };
    assertZipError(() => readZip(rawZip([bigger]), { maxRatio: 2000 }), 'zip-bomb', 'x', /over the 2147483647-byte cap/);
    // Refused before inflating: nothing near the declared gigabytes was ever allocated.
    assert.ok(process.memoryUsage().arrayBuffers - before < 256 * MiB, 'refused without inflating');
  });

  test('a lying header (declares 10 bytes, inflates to 10 MB) is stopped at the declared size', () => {
    const plain = new Uint8Array(10 * MiB);
    const entry: RawEntry = { name: 'recording/session.cast', method: 8, data: deflateRawSync(plain), size: 10, crc: crc32(plain.subarray(0, 10)) };
    const zip = rawZip([entry]);
    assertZipError(() => readZip(zip), 'zip-bomb', 'recording/session.cast', /inflates past the 10-byte size it declares/);
  });

  test('a lying header over a 1 GiB stream neither allocates nor inflates it', () => {
    const entry: RawEntry = { name: 'liar', method: 8, data: zeroStream(1024), size: 10, crc: crc32(new Uint8Array(10)) };
    const zip = rawZip([entry]);
    const before = process.memoryUsage().arrayBuffers;
    assertZipError(() => readZip(zip), 'zip-bomb', 'liar', /inflates past/);
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 16 * MiB, `array buffers grew by ${grown} bytes`);
  });

  test('too many entries', () => {
    const entries = Array.from({ length: 65 }, (_, i) => stored(`f${i}`, ''));
    assertZipError(() => readZip(rawZip(entries)), 'zip-bomb', undefined, /65 entries, over the limit of 64/);
    assert.equal(readZip(rawZip(entries), { maxEntries: 65 }).size, 65);
  });

  test('limits can be tightened per call', () => {
    const zip = writeZip([{ name: 'a', data: new Uint8Array(100) }]);
    assertZipError(() => readZip(zip, { maxEntryBytes: 99 }), 'zip-bomb', 'a', /over the 99-byte cap/);
    assertZipError(() => readZip(zip, { maxTotalBytes: 99 }), 'zip-bomb', 'a', /total/);
  });
});

describe('readZip on random input', () => {
  const valid = writeZip([
    { name: 'manifest.dsse.json', data: utf8('{"payloadType":"application/vnd.custody+json","payload":"eyJ9"}') },
    { name: 'recording/session.cast', data: utf8('[0.25,"o","$ ls -la\\r\\n"]\n'.repeat(40)) },
    { name: 'keys/session-key.dsse.json', data: utf8('{"k":1}'), compress: false },
  ]);

  function onlyFormatErrors(bytes: Uint8Array): void {
    try {
      readZip(bytes);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
    }
  }

  test('random byte strings only ever produce FormatError', { timeout: 30_000 }, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), onlyFormatErrors), { numRuns: 200 });
  });

  test('single-byte mutations of a valid zip only ever produce FormatError', { timeout: 30_000 }, () => {
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), (index, value) => {
        const mutated = valid.slice();
        mutated[index] = value;
        onlyFormatErrors(mutated);
      }),
      { numRuns: 200 },
    );
  });

  test('several mutations at once only ever produce FormatError', { timeout: 30_000 }, () => {
    const mutation = fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), (mutations) => {
        const mutated = valid.slice();
        for (const [index, value] of mutations) mutated[index] = value;
        onlyFormatErrors(mutated);
      }),
      { numRuns: 200 },
    );
  });
});
