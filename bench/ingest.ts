/**
 * Ingest throughput: bundles uploaded with tus to the service (dev IdP, SQLite, the directory
 * blob store, all on loopback and the same disk) until the signed receipt is back, against a raw
 * copy of the same bundle files on the same disk (copyFile and fsync, as the blob store syncs).
 * MB are 10^6 bytes of bundle. The ingest's own parts (verifyBundle, the rest) are timed too, so
 * that a slow run can be attributed.
 *
 *   node bench/ingest.ts [--quick]
 */
import { copyFile, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IngestResultSchema } from '../shared/api/ingest.ts';
import { verifyBundle } from '../shared/bundle/verifier.ts';
import { nodeSuite } from '../node-adapters/crypto.ts';
import { nodeZipCodec } from '../node-adapters/zip.ts';
import { buildBundle } from '../shared/bundle/test-support.ts';
import { trustRootOf } from '../server/keys/service-keys.ts';
import { TusClient } from '../server/ingest/tus.test-support.ts';
import { startHarness } from '../server/service.test-support.ts';
import { generateCorpus } from './corpus.ts';
import { fmtMbps, isQuick, mb, mbps, Report } from './report.ts';

const quick = isQuick();
const BUNDLES = quick ? 3 : 6;
/** Output events per bundle and characters each (a pty read's worth): ~8 MB (quick) or ~20 MB of terminal text per bundle. */
const EVENTS = quick ? 2000 : 5000;
const EVENT_BYTES = 4096;
const CHUNK = 8 * 1024 * 1024;
const DAY = 86_400_000;

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function main(): Promise<void> {
  const report = new Report('ingest', 'Ingest throughput (tus upload → verify → cosign → store → receipt)', [
    `${BUNDLES} sealed bundles of ~${((EVENTS * EVENT_BYTES) / 1e6).toFixed(0)} MB of terminal text (bench/corpus.ts), uploaded one after another in ${CHUNK / 1024 / 1024} MiB tus chunks`,
    'baseline: copyFile + fsync of the same bundle files on the same disk',
  ]);
  const harness = await startHarness({ config: { limits: { uploadBytes: 256 * 1024 * 1024 }, archive: { sweepIntervalMinutes: 0 } } });
  try {
    const keys = harness.service.context.keys;
    const trustRoot = trustRootOf(keys, 'test');
    const dir = join(harness.dir, 'bench');
    await mkdir(join(dir, 'copies'), { recursive: true });
    const files: { path: string; sessionId: string; size: number }[] = [];
    const startedAt = Date.now() - 3_600_000;
    // The benchmarks' terminal corpus: colours, listings, logs, JSON, UTF-8; a different stretch per bundle.
    const corpus = generateCorpus(BUNDLES * EVENTS * EVENT_BYTES + 1_000_000).toString('utf8');
    for (let b = 0; b < BUNDLES; b++) {
      const sessionId = `bench-${b}`;
      const built = buildBundle({
        sessionId,
        startedAt,
        events: Array.from({ length: EVENTS }, (_, i) => ({ interval: 0.01, code: 'o' as const, data: corpus.slice((b * EVENTS + i) * EVENT_BYTES, (b * EVENTS + i + 1) * EVENT_BYTES) })),
        deviceCert: { issuer: keys.orgRoot, notBefore: startedAt - DAY, notAfter: startedAt + DAY, subject: { sub: 'alice' } },
      });
      const path = join(dir, `${sessionId}.custody`);
      await writeFile(path, built.bytes);
      files.push({ path, sessionId, size: built.bytes.length });
    }
    const total = files.reduce((sum, f) => sum + f.size, 0);

    let copyMs = 0;
    for (const file of files) {
      const target = join(dir, 'copies', `${file.sessionId}.custody`);
      const start = performance.now();
      await copyFile(file.path, target);
      await fsyncFile(target);
      copyMs += performance.now() - start;
    }

    const alice = await harness.as('alice');
    const client = new TusClient(harness.service.url, alice.tokens.accessToken);
    let ingestMs = 0;
    for (const file of files) {
      const start = performance.now();
      const bytes = await readFile(file.path);
      const response = await client.upload(bytes, file.sessionId, CHUNK);
      const body = await response.text();
      if (response.status !== 200) throw new Error(`${file.sessionId}: the service answered ${response.status}: ${body}`);
      const result = IngestResultSchema.parse(JSON.parse(body));
      ingestMs += performance.now() - start;
      if (result.receipt.uploadedSha256.length !== 64) throw new Error(`no receipt for ${file.sessionId}`);
    }

    // The largest part of an ingest, timed alone on the same bundles.
    let verifyMs = 0;
    for (const file of files) {
      const bytes = await readFile(file.path);
      const start = performance.now();
      const verdict = verifyBundle(bytes, { trustRoot, suite: nodeSuite, zipCodec: nodeZipCodec });
      verifyMs += performance.now() - start;
      if (verdict.status !== 'intact') throw new Error(`${file.sessionId}: ${verdict.summary}`);
    }

    const copy = mbps(total, copyMs);
    const ingest = mbps(total, ingestMs);
    report.info('ingest throughput', `${fmtMbps(copy)} (copy)`, `${mbps(total, ingestMs).toFixed(1)} MB/s (ingest)`, `${(ingest / copy).toFixed(4)}×`);
    report.info('of which verifyBundle (node:crypto, node:zlib)', mb(total), fmtMbps(mbps(total, verifyMs)), `${((verifyMs / ingestMs) * 100).toFixed(0)}% of ingest`);
    report.finish([`${mb(total)} in ${BUNDLES} bundles; the service, the IdP and the client share this machine's cores`]);
  } finally {
    await harness.stop();
    await rm(join(harness.dir, 'bench'), { recursive: true, force: true });
  }
}

await main();
