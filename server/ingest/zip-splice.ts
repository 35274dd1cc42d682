/**
 * Replaces one entry of a zip that `readZip` has already accepted, copying every other entry's
 * bytes (local header, compressed data, data descriptor) verbatim: ingest swaps in the
 * countersigned manifest without inflating and deflating the recording again. The result
 * depends only on the input bytes (no compressor version in it), so the same upload always
 * gives the same stored object. APPNOTE 6.3.10: 4.3.6 (layout), 4.3.7 (local header),
 * 4.3.12 (central directory header), 4.3.16 (end of central directory).
 *
 * The caller reads the result back with the shared reader (verifyBundle); anything unexpected
 * here (ZIP64, several disks, the entry missing) throws.
 */
import { crc32, deflateRawSync } from 'node:zlib';

// The format's numbers, from the one zip reader and writer of the project.
import {
  CENTRAL_HEADER_SIG as CENTRAL_SIG,
  CENTRAL_HEADER_SIZE as CENTRAL_SIZE,
  EOCD_SIG,
  EOCD_SIZE,
  FLAG_DATA_DESCRIPTOR,
  FLAG_UTF8,
  LOCAL_HEADER_SIG as LOCAL_SIG,
  LOCAL_HEADER_SIZE as LOCAL_SIZE,
} from '../../shared/bundle/zip.ts';

interface CentralRecord {
  readonly name: string;
  /** This record's bytes in the central directory. */
  readonly start: number;
  readonly end: number;
  readonly localOffset: number;
}

function endOfCentralDirectory(zip: Uint8Array, view: DataView): number {
  // The record is 22 bytes plus a comment of at most 65535 (4.3.16): search back from the end.
  for (let p = zip.length - EOCD_SIZE; p >= Math.max(0, zip.length - EOCD_SIZE - 0xffff); p--) {
    if (view.getUint32(p, true) === EOCD_SIG && p + EOCD_SIZE + view.getUint16(p + 20, true) === zip.length) return p;
  }
  throw new Error('the zip has no end of central directory record');
}

export function replaceZipEntry(zip: Uint8Array, name: string, data: Uint8Array): Uint8Array {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = endOfCentralDirectory(zip, view);
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0 || count === 0xffff || cdOffset === 0xffffffff) {
    throw new Error('the zip spans several disks or needs ZIP64');
  }
  const records: CentralRecord[] = [];
  for (let p = cdOffset, i = 0; i < count; i++) {
    if (view.getUint32(p, true) !== CENTRAL_SIG) throw new Error(`central directory record ${i} is not where the directory says`);
    const nameLength = view.getUint16(p + 28, true);
    const end = p + CENTRAL_SIZE + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
    records.push({ name: new TextDecoder().decode(zip.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLength)), start: p, end, localOffset: view.getUint32(p + 42, true) });
    p = end;
  }
  const target = records.find((r) => r.name === name);
  if (target === undefined) throw new Error(`the zip has no entry ${name}`);

  // Each entry owns the bytes from its local header to the next one's (or to the directory).
  const byOffset = [...records].sort((a, b) => a.localOffset - b.localOffset);
  const regionEnd = new Map(byOffset.map((r, i) => [r, byOffset[i + 1]?.localOffset ?? cdOffset]));

  const targetView = (offset: number): number => view.getUint16(target.start + offset, true);
  const deflated = deflateRawSync(data);
  const stored = deflated.length >= data.length;
  const payload = stored ? data : deflated;
  const crc = crc32(data);
  const nameBytes = zip.subarray(target.start + CENTRAL_SIZE, target.start + CENTRAL_SIZE + targetView(28));
  const flags = targetView(8) & FLAG_UTF8;
  const method = stored ? 0 : 8;
  const local = new Uint8Array(LOCAL_SIZE + nameBytes.length);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, LOCAL_SIG, true);
  lv.setUint16(4, targetView(6), true); // version needed
  lv.setUint16(6, flags, true);
  lv.setUint16(8, method, true);
  lv.setUint16(10, targetView(12), true); // time
  lv.setUint16(12, targetView(14), true); // date
  lv.setUint32(14, crc, true);
  lv.setUint32(18, payload.length, true);
  lv.setUint32(22, data.length, true);
  lv.setUint16(26, nameBytes.length, true);
  lv.setUint16(28, 0, true);
  local.set(nameBytes, LOCAL_SIZE);

  const parts: Uint8Array[] = [];
  const newOffset = new Map<CentralRecord, number>();
  let at = 0;
  for (const record of byOffset) {
    newOffset.set(record, at);
    const region = record === target ? [local, payload] : [zip.subarray(record.localOffset, regionEnd.get(record))];
    for (const part of region) {
      parts.push(part);
      at += part.length;
    }
  }
  const newCdOffset = at;
  for (const record of records) {
    // A copy of its own (a Buffer's slice would be a view into the caller's bytes).
    const copy = new Uint8Array(zip.subarray(record.start, record.end));
    const cv = new DataView(copy.buffer);
    cv.setUint32(42, newOffset.get(record)!, true);
    if (record === target) {
      cv.setUint16(8, flags & ~FLAG_DATA_DESCRIPTOR, true);
      cv.setUint16(10, method, true);
      cv.setUint32(16, crc, true);
      cv.setUint32(20, payload.length, true);
      cv.setUint32(24, data.length, true);
    }
    parts.push(copy);
    at += copy.length;
  }
  const end = new Uint8Array(zip.subarray(eocd));
  const ev = new DataView(end.buffer);
  ev.setUint32(12, at - newCdOffset, true);
  ev.setUint32(16, newCdOffset, true);
  parts.push(end);
  if (at - newCdOffset !== cdSize) throw new Error('the central directory changed size');
  return Buffer.concat(parts);
}
