/**
 * One suite, run against every blob store:
 *
 * - the directory store, in a temp directory;
 * - the S3 store against s3rver (in this process, on 127.0.0.1), without Object Lock. s3rver
 *   3.7.1 ignores `If-None-Match` on PUT (it overwrites) and answers NotImplemented to every
 *   Object Lock call, so there the overwrite cases are skipped, saying so: against s3rver this
 *   suite proves keys, digests, parts, reads and the tag-kept retention, not write-once;
 * - the S3 store against moto_server (a local S3-compatible server, started on 127.0.0.1 where
 *   it is installed; the CI machine has it) with Object Lock in COMPLIANCE mode and conditional
 *   writes: there the bucket itself refuses overwrites and deletes of locked versions.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createRequire } from 'node:module';
import { BlobDigestError, BlobKeyError, BlobNotFoundError, ObjectExistsError, RetentionError, type BlobStore } from './blob-store.ts';
import { DirectoryBlobStore } from './directory-store.ts';
import { openBlobStore } from './open-blob-store.ts';
import { MIN_PART_BYTES, S3BlobStore } from './s3-store.ts';
import { parseConfig } from '../config.ts';

interface Backend {
  readonly store: BlobStore;
  /** The store refuses an overwrite (false: s3rver, which ignores If-None-Match). */
  readonly writeOnce: boolean;
  /** Retention is enforced by the bucket on real time (Object Lock), not only by the store's check. */
  readonly bucketLock: boolean;
  readonly client?: S3Client;
  readonly bucket?: string;
  /** The directory the store writes under (directory store). */
  readonly root?: string;
}

/** The part of s3rver's API the suite uses (the package ships no types). */
interface S3rver {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: Record<string, unknown>) => S3rver;

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);
let counter = 0;
const freshKey = (prefix = 'recordings/2026/11'): string => `${prefix}/s${++counter}-${randomBytes(4).toString('hex')}.custody`;

const HOSTILE_KEYS = [
  '../escape',
  '../../etc/passwd',
  '/etc/passwd',
  'recordings/../../outside',
  'recordings/./x',
  'recordings//x',
  'recordings/x/',
  '.',
  '..',
  '',
  'a\\..\\b',
  'a\0b',
  'recordings/%2e%2e/x',
  'récordings/x',
  `${'a/'.repeat(600)}x`,
];

function s3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function motoUnavailable(): string | false {
  const found = spawnSync('moto_server', ['--help'], { stdio: 'ignore' });
  return found.error === undefined && found.status === 0 ? false : 'moto_server is not installed here (pip install "moto[server]"); the Object Lock and conditional-write cases need it';
}

/** `directoryOnly`: cases about the directory store's own files, declared for it alone. */
function describeBlobStores(title: string, suite: (backend: () => Backend) => void, directoryOnly: (backend: () => Backend) => void): void {
  describe(`${title} (directory)`, () => {
    let backend: Backend;
    before(async () => {
      const root = await mkdtemp(join(tmpdir(), 'custody-blobs-'));
      backend = { store: new DirectoryBlobStore(join(root, 'blobs')), writeOnce: true, bucketLock: false, root };
    });
    after(async () => {
      // The objects are 0444 in writable directories: rm removes them as it would any file.
      if (backend.root !== undefined) await rm(backend.root, { recursive: true, force: true });
    });
    suite(() => backend);
    directoryOnly(() => backend);
  });

  describe(`${title} (S3 on s3rver, no Object Lock)`, () => {
    let backend: Backend;
    let server: S3rver;
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'custody-s3rver-'));
      server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: 'recordings', configs: [] }] });
      const address = await server.run();
      const client = s3Client(`http://127.0.0.1:${address.port}`);
      backend = {
        store: new S3BlobStore({ client, bucket: 'recordings', objectLock: 'none', multipartThreshold: MIN_PART_BYTES, partBytes: MIN_PART_BYTES }),
        writeOnce: false,
        bucketLock: false,
        client,
        bucket: 'recordings',
      };
    });
    after(async () => {
      backend.client?.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    });
    suite(() => backend);
  });

  describe(`${title} (S3 on moto_server, Object Lock COMPLIANCE)`, { skip: motoUnavailable() }, () => {
    let backend: Backend;
    let moto: ChildProcess;
    before(async () => {
      const port = await freePort();
      moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      moto.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const endpoint = `http://127.0.0.1:${port}`;
      for (let attempt = 0; ; attempt++) {
        try {
          await fetch(`${endpoint}/moto-api/`);
          break;
        } catch {
          if (attempt > 200 || moto.exitCode !== null) throw new Error(`moto_server did not start: ${stderr.slice(-2000)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const client = s3Client(endpoint);
      await client.send(new CreateBucketCommand({ Bucket: 'recordings', ObjectLockEnabledForBucket: true }));
      backend = {
        store: new S3BlobStore({ client, bucket: 'recordings', objectLock: 'COMPLIANCE', multipartThreshold: MIN_PART_BYTES, partBytes: MIN_PART_BYTES }),
        writeOnce: true,
        bucketLock: true,
        client,
        bucket: 'recordings',
      };
    });
    after(() => {
      backend?.client?.destroy();
      moto?.kill();
    });
    suite(() => backend);
  });
}

/** A retention end a little ahead: Object Lock refuses a retain-until date in the past, and the bucket judges it on real time. */
const soon = (ms = 1500): number => Date.now() + ms;

/** Where the bucket enforces retention on its own clock, let that clock pass `until` before deleting. */
async function letRetentionPass(backend: Backend, until: number): Promise<void> {
  if (!backend.bucketLock) return;
  while (Date.now() <= until + 50) await new Promise((resolve) => setTimeout(resolve, until + 60 - Date.now()));
}

describeBlobStores('blob store', (the) => {
  test('put, then get, head and open return the same bytes and digest', async () => {
    const { store } = the();
    const key = freshKey();
    const bytes = bytesOf('{"version":3}\nrecording bytes\n');
    const info = await store.put(key, bytes, { sha256: sha(bytes), contentType: 'application/vnd.custody.bundle+zip' });
    assert.deepEqual(info, { key, size: bytes.length, sha256: sha(bytes), retainUntil: undefined, legalHold: false });
    assert.deepEqual(await store.get(key), bytes);
    assert.deepEqual(await store.head(key), info);
    const stream = await store.open(key);
    assert.ok(stream !== undefined);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    assert.deepEqual(new Uint8Array(Buffer.concat(chunks)), bytes);
  });

  test('a key that is not stored: get, head and open say undefined; retain, hold and delete say not stored', async () => {
    const { store } = the();
    const key = freshKey();
    assert.equal(await store.get(key), undefined);
    assert.equal(await store.head(key), undefined);
    assert.equal(await store.open(key), undefined);
    await assert.rejects(store.retain(key, soon()), BlobNotFoundError);
    await assert.rejects(store.setLegalHold(key, true), BlobNotFoundError);
    await assert.rejects(store.deleteExpired(key, Date.now()), BlobNotFoundError);
  });

  test('a file larger than one part is stored from disk and reads back whole', async () => {
    const { store } = the();
    const dir = await mkdtemp(join(tmpdir(), 'custody-blob-src-'));
    try {
      const bytes = randomBytes(2 * MIN_PART_BYTES + 12345);
      const file = join(dir, 'bundle.custody');
      await writeFile(file, bytes);
      const key = freshKey();
      const info = await store.put(key, { file }, { sha256: sha(bytes) });
      assert.equal(info.size, bytes.length);
      const back = await store.get(key);
      assert.equal(back?.length, bytes.length);
      assert.equal(sha(back ?? new Uint8Array()), sha(bytes));
      assert.equal((await store.head(key))?.sha256, sha(bytes));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a put whose bytes do not match the given sha256 is refused and stores nothing', async () => {
    const { store } = the();
    const key = freshKey();
    const bytes = bytesOf('what was sent');
    await assert.rejects(store.put(key, bytes, { sha256: sha(bytesOf('what was meant')) }), BlobDigestError);
    assert.equal(await store.head(key), undefined);
    assert.equal(await store.get(key), undefined);
  });

  test('an overwrite is refused and the first bytes stay', async (t) => {
    const backend = the();
    if (!backend.writeOnce) {
      t.skip('s3rver ignores If-None-Match on PUT and overwrites: write-once is proved on moto_server and the directory store');
      return;
    }
    const { store } = backend;
    const key = freshKey();
    const first = bytesOf('first');
    const second = bytesOf('second, longer');
    await store.put(key, first, { sha256: sha(first) });
    await assert.rejects(store.put(key, second, { sha256: sha(second) }), ObjectExistsError);
    await assert.rejects(store.put(key, first, { sha256: sha(first) }), ObjectExistsError);
    assert.deepEqual(await store.get(key), first);
  });

  test('two puts of one key at once: exactly one is stored, the other is refused', async (t) => {
    const backend = the();
    if (!backend.writeOnce) {
      t.skip('s3rver ignores If-None-Match on PUT: the race is proved on moto_server and the directory store');
      return;
    }
    const { store } = backend;
    const key = freshKey();
    const a = bytesOf('writer a');
    const b = bytesOf('writer b!');
    const results = await Promise.allSettled([store.put(key, a, { sha256: sha(a) }), store.put(key, b, { sha256: sha(b) })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok(lost[0]!.reason instanceof ObjectExistsError);
    const stored = await store.get(key);
    assert.ok(stored !== undefined && (sha(stored) === sha(a) || sha(stored) === sha(b)));
  });

  test('a multipart put of a key that exists is refused', async (t) => {
    const backend = the();
    if (!backend.writeOnce) {
      t.skip('s3rver ignores If-None-Match on CompleteMultipartUpload');
      return;
    }
    const { store } = backend;
    const key = freshKey();
    const small = bytesOf('small');
    await store.put(key, small, { sha256: sha(small) });
    const large = randomBytes(MIN_PART_BYTES + 1);
    await assert.rejects(store.put(key, large, { sha256: sha(large) }), ObjectExistsError);
    assert.deepEqual(await store.get(key), small);
  });

  test('hostile keys are refused by every call before any I/O', async () => {
    const { store, root } = the();
    const before = root === undefined ? [] : await readdir(root);
    const bytes = bytesOf('x');
    for (const key of HOSTILE_KEYS) {
      const name = JSON.stringify(key.slice(0, 40));
      await assert.rejects(store.put(key, bytes, { sha256: sha(bytes) }), BlobKeyError, `put ${name}`);
      await assert.rejects(store.get(key), BlobKeyError, `get ${name}`);
      await assert.rejects(store.head(key), BlobKeyError, `head ${name}`);
      await assert.rejects(store.open(key), BlobKeyError, `open ${name}`);
      await assert.rejects(store.retain(key, soon()), BlobKeyError, `retain ${name}`);
      await assert.rejects(store.setLegalHold(key, true), BlobKeyError, `setLegalHold ${name}`);
      await assert.rejects(store.deleteExpired(key, Date.now()), BlobKeyError, `deleteExpired ${name}`);
    }
    // Nothing appeared beside the store's own directory.
    if (root !== undefined) assert.deepEqual(await readdir(root), before);
  });

  test('retention is only ever extended', async () => {
    const { store } = the();
    const key = freshKey();
    const bytes = bytesOf('retained');
    const until = soon(60_000);
    assert.equal((await store.put(key, bytes, { sha256: sha(bytes), retainUntil: until })).retainUntil, until);
    assert.equal((await store.head(key))?.retainUntil, until);
    await store.retain(key, until + 60_000);
    assert.equal((await store.head(key))?.retainUntil, until + 60_000);
    await assert.rejects(store.retain(key, until), RetentionError);
    assert.equal((await store.head(key))?.retainUntil, until + 60_000);
  });

  test('deleteExpired refuses before retention ends, and deletes after', async () => {
    const backend = the();
    const { store } = backend;
    const key = freshKey();
    const bytes = bytesOf('kept for a while');
    const until = soon();
    await store.put(key, bytes, { sha256: sha(bytes), retainUntil: until });
    await assert.rejects(store.deleteExpired(key, until - 1), RetentionError);
    assert.deepEqual(await store.get(key), bytes);
    await letRetentionPass(backend, until);
    await store.deleteExpired(key, until);
    assert.equal(await store.head(key), undefined);
    assert.equal(await store.get(key), undefined);
  });

  test('a legal hold blocks deleteExpired even after retention ends, until it is lifted', async () => {
    const backend = the();
    const { store } = backend;
    const key = freshKey();
    const bytes = bytesOf('evidence');
    const until = soon();
    await store.put(key, bytes, { sha256: sha(bytes), retainUntil: until });
    await store.setLegalHold(key, true);
    assert.equal((await store.head(key))?.legalHold, true);
    await letRetentionPass(backend, until);
    await assert.rejects(store.deleteExpired(key, until + 365 * 86_400_000), RetentionError);
    assert.deepEqual(await store.get(key), bytes);
    await store.setLegalHold(key, false);
    assert.equal((await store.head(key))?.legalHold, false);
    await store.deleteExpired(key, until + 1);
    assert.equal(await store.head(key), undefined);
  });

  test('the bucket itself refuses to delete a locked version, whatever the caller', async (t) => {
    const backend = the();
    if (!backend.bucketLock || backend.client === undefined) {
      t.skip('only Object Lock enforces retention below the store (s3rver has none; the directory store is the service\'s own)');
      return;
    }
    const key = freshKey();
    const bytes = bytesOf('locked');
    await backend.store.put(key, bytes, { sha256: sha(bytes), retainUntil: soon(3_600_000) });
    const head = await backend.client.send(new HeadObjectCommand({ Bucket: backend.bucket, Key: key }));
    assert.ok(head.VersionId !== undefined, 'an Object Lock bucket is versioned');
    await assert.rejects(backend.client.send(new DeleteObjectCommand({ Bucket: backend.bucket, Key: key, VersionId: head.VersionId })), (error: Error) => /AccessDenied/i.test(error.name + error.message));
    assert.deepEqual(await backend.store.get(key), bytes);
  });

}, (the) => {
  test('the directory store holds an object whose retention record is missing (a crash between the two writes)', async () => {
    const { store } = the();
    assert.ok(store instanceof DirectoryBlobStore);
    const key = freshKey();
    const bytes = bytesOf('sidecar lost');
    await store.put(key, bytes, { sha256: sha(bytes), retainUntil: Date.now() - 1 });
    await rm(join(store.root, 'retention', `${key}.json`));
    assert.deepEqual(await store.head(key), { key, size: bytes.length, sha256: sha(bytes), retainUntil: undefined, legalHold: true });
    await assert.rejects(store.deleteExpired(key, Date.now()), RetentionError);
    await store.setLegalHold(key, false);
    await store.deleteExpired(key, Date.now());
    assert.equal(await store.get(key), undefined);
  });

  test('the directory store keeps objects read-only (0444) and no temp file behind', async () => {
    const { store, root } = the();
    assert.ok(store instanceof DirectoryBlobStore && root !== undefined);
    const key = freshKey('recordings/modes');
    const bytes = bytesOf('mode');
    await store.put(key, bytes, { sha256: sha(bytes) });
    assert.equal((await stat(join(store.root, 'objects', key))).mode & 0o777, 0o444);
    const other = bytesOf('digest wrong');
    await assert.rejects(store.put(freshKey('recordings/modes'), other, { sha256: sha(bytes) }), BlobDigestError);
    assert.deepEqual(await readdir(join(store.root, 'objects', 'recordings', 'modes')), [key.split('/').at(-1)]);
  });
});

test('openBlobStore: a directory under dataDir/blobs by default, the bucket the configuration names otherwise', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'custody-blob-config-'));
  try {
    const auth = { issuer: 'http://127.0.0.1:1', audience: 'custody', roleGroups: {} };
    const local = openBlobStore(parseConfig({ dataDir, auth }));
    assert.ok(local instanceof DirectoryBlobStore);
    assert.equal(local.root, join(dataDir, 'blobs'));
    const bytes = bytesOf('default store');
    await local.put('recordings/x.custody', bytes, { sha256: sha(bytes) });
    assert.ok((await stat(join(dataDir, 'blobs', 'objects', 'recordings', 'x.custody'))).isFile());
    const bucket = openBlobStore(parseConfig({ dataDir, auth, blobs: { kind: 's3', bucket: 'custody-recordings', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, objectLock: 'GOVERNANCE' } }));
    assert.ok(bucket instanceof S3BlobStore);
    assert.equal(bucket.objectLock, 'GOVERNANCE');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
