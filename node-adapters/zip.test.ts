import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError, readZip, writeZip } from '../shared/bundle/index.ts';
import { nodeZipCodec } from './zip.ts';

const CENTRAL_SIGNATURE = 0x02014b50;

/** A one-entry deflated zip whose headers then claim `size` bytes (both local and central). */
function zipDeclaring(data: Uint8Array, size: number): Uint8Array {
  const zip = writeZip([{ name: 'recording/session.cast', data, compress: true }]);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  view.setUint32(22, size, true); // local header: uncompressed size (APPNOTE 4.3.7)
  for (let p = 0; p < zip.length - 4; p++) {
    if (view.getUint32(p, true) === CENTRAL_SIGNATURE) {
      view.setUint32(p + 24, size, true); // central header: uncompressed size (APPNOTE 4.3.12)
      break;
    }
  }
  return zip;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FormatError, `expected a FormatError, got ${String(error)}`);
    return error.code;
  }
  return 'no error';
}

test('node:zlib reads what the pure-JS writer wrote, byte for byte', () => {
  const data = new TextEncoder().encode('héllo ✓ '.repeat(10_000));
  const zip = writeZip([
    { name: 'a', data, compress: true },
    { name: 'b', data: new Uint8Array(0), compress: true },
  ]);
  const entries = readZip(zip, undefined, nodeZipCodec);
  assert.deepEqual(entries.get('a'), data);
  assert.equal(entries.get('b')?.length, 0);
});

test('node:zlib stops a lying header (10 bytes declared, 10 MB inside) without inflating it all', () => {
  const zip = zipDeclaring(new Uint8Array(10 * 1024 * 1024), 10);
  const before = process.memoryUsage().arrayBuffers;
  assert.equal(codeOf(() => readZip(zip, undefined, nodeZipCodec)), 'zip-bomb');
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, 'output was bounded by the declared size');
});

test('node:zlib reports a stream shorter than declared, corrupt deflate data, and a CRC mismatch', () => {
  const data = new TextEncoder().encode('x'.repeat(5000));
  assert.equal(codeOf(() => readZip(zipDeclaring(data, 6000), { maxRatio: 1e9 }, nodeZipCodec)), 'zip-malformed');
  const corrupt = writeZip([{ name: 'a', data, compress: true }]);
  corrupt[30 + 1 + 2]! ^= 0xff; // inside the deflate stream of entry "a" (local header is 30 bytes + name)
  assert.match(codeOf(() => readZip(corrupt, undefined, nodeZipCodec)), /^zip-(malformed|crc-mismatch|bomb)$/);
  const stored = writeZip([{ name: 'a', data, compress: false }]);
  stored[31 + 10]! ^= 0x01; // a byte of stored data: only the CRC can tell
  assert.equal(codeOf(() => readZip(stored, undefined, nodeZipCodec)), 'zip-crc-mismatch');
});
