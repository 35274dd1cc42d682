import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import yazl from 'yazl';
import { CAST_ENTRY, MANIFEST_ENTRY, utf8, verifyBundle } from '../../shared/bundle/index.ts';
import { buildBundle, DEVICE_KEY, describeReport, entriesOf, trustRoot } from '../../shared/bundle/test-support.ts';
import { replaceZipEntry } from './zip-splice.ts';

const root = trustRoot([{ key: DEVICE_KEY, role: 'device' }]);

/** An entry's bytes as stored in the zip (compressed), found through the central directory (APPNOTE 4.3.12, 4.3.7). */
function storedBytes(zip: Uint8Array, name: string): Uint8Array {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = zip.length - 22;
  let p = view.getUint32(eocd + 16, true);
  for (let i = view.getUint16(eocd + 10, true); i > 0; i--) {
    const nameLength = view.getUint16(p + 28, true);
    if (Buffer.from(zip.subarray(p + 46, p + 46 + nameLength)).toString('utf8') === name) {
      const local = view.getUint32(p + 42, true);
      const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
      return new Uint8Array(zip.subarray(start, start + view.getUint32(p + 20, true)));
    }
    p += 46 + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
  }
  throw new Error(`no ${name}`);
}

/** The bundle zipped as the recorder zips it: yazl, the recording streamed (so with a data descriptor). */
async function recorderStyleZip(entries: Map<string, Uint8Array>): Promise<Uint8Array> {
  const zip = new yazl.ZipFile();
  const options = { mtime: new Date(1980, 0, 1), mode: 0o100600, compress: true, forceDosTimestamp: true };
  for (const [name, data] of entries) {
    if (name === CAST_ENTRY) zip.addReadStream(Readable.from([Buffer.from(data)]), name, options);
    else zip.addBuffer(Buffer.from(data), name, options);
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

for (const [kind, make] of [
  ['the canonical writer', (bytes: Uint8Array) => Promise.resolve(bytes)],
  ['yazl with a data descriptor, as the recorder packs', (bytes: Uint8Array) => recorderStyleZip(entriesOf(bytes))],
] as const) {
  test(`replacing the manifest of a zip from ${kind} keeps every other entry and the bundle verifies`, async () => {
    const built = buildBundle();
    const original = await make(built.bytes);
    assert.equal(verifyBundle(original, { trustRoot: root }).status, 'intact');
    const manifest = Buffer.from(entriesOf(original).get(MANIFEST_ENTRY)!).toString('utf8').replace('"signatures": [', '"signatures": [\n    { "keyid": "other", "sig": "AAAA" },');
    const spliced = replaceZipEntry(original, MANIFEST_ENTRY, utf8(manifest));
    const before = entriesOf(original);
    const after = entriesOf(spliced);
    assert.deepEqual([...after.keys()], [...before.keys()]);
    assert.equal(Buffer.from(after.get(MANIFEST_ENTRY)!).toString('utf8'), manifest);
    for (const [name, data] of before) if (name !== MANIFEST_ENTRY) assert.deepEqual(after.get(name), data, name);
    const report = verifyBundle(spliced, { trustRoot: root });
    assert.equal(report.status, 'intact', describeReport(report));
    assert.deepEqual(replaceZipEntry(original, MANIFEST_ENTRY, utf8(manifest)), spliced, 'the same input gives the same bytes');
    for (const name of before.keys()) {
      if (name === MANIFEST_ENTRY) continue;
      assert.deepEqual(storedBytes(spliced, name), storedBytes(original, name), `${name}: its compressed bytes are carried over, not recompressed`);
    }
  });
}

test('a zip without the entry, or without an end of central directory, is refused', () => {
  const built = buildBundle();
  assert.throws(() => replaceZipEntry(built.bytes, 'nothing.json', utf8('{}')), /no entry nothing\.json/);
  assert.throws(() => replaceZipEntry(built.bytes.subarray(0, built.bytes.length - 5), MANIFEST_ENTRY, utf8('{}')), /no end of central directory/);
});
