/**
 * Verify throughput: `verifyBundle(bytes, { suite: nodeSuite, zipCodec: nodeZipCodec })`
 * on a ~100 MB recording, called as the CLI calls it (`custody verify`), against
 * the ceiling of hashing the same bytes once with node:crypto.
 *
 * The bundle is a real one: a session that streams terminal text is recorded
 * through RecorderClient and sealed. MB are 10^6 bytes of the uncompressed
 * recording (session.cast); MB/s of the zip file are printed too. The time is
 * split into unzip (readZip with the same codec: node:zlib inflate + CRC-32)
 * and the rest, and the rest into its passes over the lines, so that a miss can
 * be attributed. The pure-JS path (no codec: fflate and a JS CRC-32, what a
 * browser verifier runs) is timed too, for scale.
 *
 *   node bench/verify.ts [--quick]
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { nodeSuite, nodeZipCodec } from '../recorder/index.ts';
import {
  CAST_ENTRY,
  castLines,
  decodeUtf8Strict,
  fromBase64,
  keyIdOf,
  MerkleAccumulator,
  NOTES_ENTRY,
  parseCheckpoint,
  parseEvent,
  parseNote,
  splitNotes,
  parseHeader,
  readZip,
  verifyBundle,
  type TrustRoot,
} from '../shared/bundle/index.ts';
import { createWorkspace, streamCommand } from './corpus.ts';
import { fmtMbps, fmtMs, fmtRatio, isQuick, mb, mbps, median, Report } from './report.ts';
import { recorderTransport } from './transports.ts';

const quick = isQuick();
/** Output bytes to record: the cast is ~1.13× the output (JSON escapes), so this gives a ~100 MB cast. */
const OUTPUT_BYTES = quick ? 18_000_000 : 88_000_000;
const RUNS = quick ? 3 : 5;
const GOAL_MBPS = 500;

function timeRuns<T>(runs: number, run: () => T): { ms: number; value: T } {
  let value = run(); // warm-up, not counted
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    value = run();
    times.push(performance.now() - start);
  }
  return { ms: median(times), value };
}

async function recordBundle(dir: string, corpus: string): Promise<{ path: string; seconds: number; trustRoot: TrustRoot }> {
  const dataDir = join(dir, 'recorder');
  const recorder = await recorderTransport(dataDir);
  try {
    const start = performance.now();
    const session = recorder.open(streamCommand(corpus, OUTPUT_BYTES));
    const sealed = await session.sealed!;
    // Trust the recorder's device key, so that the verifier takes the full "intact and trusted" path.
    const publicKey = (JSON.parse(readFileSync(join(dataDir, 'device-key.json'), 'utf8')) as { publicKey: string }).publicKey;
    const trustRoot: TrustRoot = { version: 1, name: 'bench', keys: [{ keyId: keyIdOf(nodeSuite, fromBase64(publicKey)!), publicKey, role: 'device' }] };
    return { path: sealed.bundlePath, seconds: (performance.now() - start) / 1000, trustRoot };
  } finally {
    await recorder.stop();
  }
}

/** The raw DEFLATE data of one entry, found through the central directory (APPNOTE 4.3.12, 4.3.7); the bundle has no zip comment. */
function deflatedEntry(zip: Uint8Array, name: string): { data: Uint8Array; size: number } {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = zip.length - 22;
  let p = view.getUint32(eocd + 16, true);
  for (let i = view.getUint16(eocd + 10, true); i > 0; i--) {
    const nameLength = view.getUint16(p + 28, true);
    const entryName = Buffer.from(zip.subarray(p + 46, p + 46 + nameLength)).toString('utf8');
    if (entryName === name) {
      const local = view.getUint32(p + 42, true);
      const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
      return { data: zip.subarray(start, start + view.getUint32(p + 20, true)), size: view.getUint32(p + 24, true) };
    }
    p += 46 + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
  }
  throw new Error(`the bundle has no ${name}`);
}

interface Spacing {
  readonly count: number;
  readonly kinds: string;
  /** Output bytes of session.cast between consecutive checkpoints. */
  readonly bytes: number[];
  readonly ms: number[];
}

/**
 * How far apart the bundle's checkpoints are, in bytes of session.cast and in time: the verifier
 * localizes tampering to one checkpoint interval, and the recorder promises one per 250 ms or 1 MiB.
 */
function checkpointSpacing(notes: Uint8Array, cast: Uint8Array): Spacing {
  const ends: number[] = [0]; // ends[n] = bytes of the first n lines, "\n" included
  for (const { bytes } of castLines(cast)) ends.push(bytes.byteOffset - cast.byteOffset + bytes.length + 1);
  const where = { entry: NOTES_ENTRY, line: 0, label: 'checkpoint' };
  const bodies = splitNotes(Buffer.from(notes).toString('utf8')).map(({ note }) => parseCheckpoint(parseNote(note, where).text, where));
  const kinds = new Map<string, number>();
  for (const body of bodies) kinds.set(body.kind, (kinds.get(body.kind) ?? 0) + 1);
  const bytes: number[] = [];
  const ms: number[] = [];
  for (let i = 1; i < bodies.length; i++) {
    bytes.push(ends[bodies[i]!.size]! - ends[bodies[i - 1]!.size]!);
    ms.push(bodies[i]!.time - bodies[i - 1]!.time);
  }
  return { count: bodies.length, kinds: [...kinds].map(([kind, n]) => `${n} ${kind}`).join(', '), bytes, ms };
}

async function main(): Promise<void> {
  const report = new Report('verify', `verify: a recorded bundle of ~${mb(OUTPUT_BYTES * 1.13, 0)} of session.cast${quick ? ' (--quick)' : ''}`, [
    'candidate: verifyBundle(bytes, { suite: nodeSuite, zipCodec: nodeZipCodec }) as `custody verify` calls it — unzip (node:zlib),',
    '           signatures, digests, every line parsed and hashed into the Merkle tree',
    'ceiling:   one SHA-256 (node:crypto) over the same uncompressed session.cast bytes',
    `MB = 10^6 bytes of uncompressed session.cast; median of ${RUNS} runs after a warm-up`,
  ]);
  const workspace = createWorkspace('verify');
  try {
    const recorded = await recordBundle(workspace.dir, workspace.corpus);
    const bundle = readFileSync(recorded.path);
    const cast = readZip(bundle, undefined, nodeZipCodec).get(CAST_ENTRY)!;
    console.log(`  recorded ${mb(OUTPUT_BYTES)} of output in ${recorded.seconds.toFixed(1)} s (through the recorder, sealed): bundle ${mb(bundle.length)}, session.cast ${mb(cast.length)}`);

    const options = { suite: nodeSuite, zipCodec: nodeZipCodec, trustRoot: recorded.trustRoot };
    const verify = timeRuns(RUNS, () => verifyBundle(bundle, options));
    const ceiling = timeRuns(RUNS, () => createHash('sha256').update(cast).digest());
    const unzip = timeRuns(RUNS, () => readZip(bundle, undefined, nodeZipCodec));
    const deflated = deflatedEntry(bundle, CAST_ENTRY);
    const inflateNative = timeRuns(RUNS, () => inflateRawSync(deflated.data));
    const crcNative = timeRuns(RUNS, () => crc32(cast));
    // The verifier without a codec: what a browser runs (fflate inflate, CRC-32 in JS).
    const verifyJs = timeRuns(RUNS, () => verifyBundle(bundle, { suite: nodeSuite, trustRoot: recorded.trustRoot }));
    const unzipJs = timeRuns(RUNS, () => readZip(bundle));
    // The passes verifyBundle makes over the lines (shared/bundle/verifier.ts checkRecording), timed alone.
    const merkle = timeRuns(RUNS, () => {
      const acc = new MerkleAccumulator(nodeSuite);
      for (const { bytes } of castLines(cast)) acc.appendLine(bytes);
      return acc.root();
    });
    const decode = timeRuns(RUNS, () => decodeUtf8Strict(cast)!.length);
    const parse = timeRuns(RUNS, () => {
      const text = decodeUtf8Strict(cast)!;
      let events = 0;
      for (let start = 0, end = text.indexOf('\n'); end >= 0; start = end + 1, end = text.indexOf('\n', start)) {
        const line = text.slice(start, end);
        if (events === 0) parseHeader(line);
        else parseEvent(line, events + 1);
        events++;
      }
      return events;
    });
    const lines = parse.value;
    const result = verify.value;
    console.log(`  verifyBundle said: ${result.status} (${result.summary}); ${lines} lines, ${result.tree?.checkpoints ?? 0} checkpoints, intact: ${result.intact}`);
    console.log(`  without a codec: ${verifyJs.value.status} (${verifyJs.value.summary})`);
    console.log('');

    const rate = mbps(cast.length, verify.ms);
    const ceilingRate = mbps(cast.length, ceiling.ms);
    const share = (ms: number): string => `${((100 * ms) / verify.ms).toFixed(0)}%`;
    const timeAndRate = (ms: number): string => `${fmtMs(ms, 0)} = ${fmtMbps(mbps(cast.length, ms))}`;
    report.goal('verify throughput (cast MB/s)', `${fmtMbps(ceilingRate)} (SHA-256)`, fmtMbps(rate), fmtRatio(rate / ceilingRate), `≥ ${GOAL_MBPS} MB/s`, rate >= GOAL_MBPS);
    report.info('verify throughput (zip file MB/s)', '—', fmtMbps(mbps(bundle.length, verify.ms)));
    report.goal('bundle verifies as intact and trusted', '—', result.summary, '—', 'intact, trusted', result.status === 'intact' && result.trusted);
    report.info('time: verifyBundle total', '—', fmtMs(verify.ms, 0), '100%');
    report.info('  unzip (readZip + nodeZipCodec: inflate + CRC-32)', '—', timeAndRate(unzip.ms), share(unzip.ms));
    report.info('    alone: node:zlib inflateRawSync / crc32', '—', `${fmtMs(inflateNative.ms, 0)} / ${fmtMs(crcNative.ms, 0)}`, `${share(inflateNative.ms)} / ${share(crcNative.ms)}`);
    const rest = verify.ms - unzip.ms;
    report.info('  the rest (signatures, digests, lines)', '—', timeAndRate(rest), share(rest));
    report.info('    alone: Merkle leaves + tree (SHA-256/line)', '—', timeAndRate(merkle.ms), share(merkle.ms));
    report.info('    alone: one strict UTF-8 decode of the cast', '—', timeAndRate(decode.ms), share(decode.ms));
    report.info('    alone: that decode + JSON parse per line', '—', timeAndRate(parse.ms), share(parse.ms));
    report.info('    alone: SHA-256 of session.cast (subject digest)', '—', fmtMs(ceiling.ms, 0), share(ceiling.ms));
    report.info('for scale: verifyBundle without a codec (browser path)', '—', `${timeAndRate(verifyJs.ms)}`, `${fmtRatio(verifyJs.ms / verify.ms)} the time`);
    report.info('  its unzip (readZip: fflate inflate + JS CRC-32)', '—', timeAndRate(unzipJs.ms), `${((100 * unzipJs.ms) / verifyJs.ms).toFixed(0)}% of it`);
    const spacing = checkpointSpacing(readZip(bundle, undefined, nodeZipCodec).get(NOTES_ENTRY)!, cast);
    const spacingMiB = (value: number): string => `${(value / (1024 * 1024)).toFixed(1)} MiB`;
    report.info(`checkpoints in the bundle (${spacing.kinds})`, '—', String(spacing.count));
    report.info('  cast between checkpoints: median / max', '≤ 1 MiB output (documented)', `${spacingMiB(median(spacing.bytes))} / ${spacingMiB(Math.max(...spacing.bytes))}`);
    report.info('  time between checkpoints: median / max', '≤ 250 ms (documented)', `${median(spacing.ms).toFixed(0)} ms / ${Math.max(...spacing.ms).toFixed(0)} ms`);
    report.finish([
      `${lines} lines: ${(cast.length / lines).toFixed(0)} bytes per line on average (the recorder's record worker writes one output line per event-loop turn, ≤ 16 Ki characters each).`,
      'the "alone" rows are the verifier\'s passes re-run outside it; they overlap with its total and need not add up exactly.',
    ]);
  } finally {
    workspace.remove();
  }
}

await main();
