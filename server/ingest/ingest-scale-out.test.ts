/**
 * Several stateless instances: every service instance here runs on one PostgreSQL database and
 * one S3 bucket (moto_server on 127.0.0.1, with Object Lock, as deployed) and one data directory
 * for the org's keys. Upload state is in the bucket and the upload lock in the database, so an
 * upload begun on one instance is finished on another, two instances never write one upload at
 * once, and a complete upload an instance left un-ingested is ingested by the next that starts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '@tus/s3-store';
import { Upload } from '@tus/server';
import { IngestResultSchema, verifyReceipt } from '../../shared/api/ingest.ts';
import { TrustRootSchema, utf8, verifyBundle, type TrustRoot } from '../../shared/bundle/index.ts';
import { buildBundle, repack } from '../../shared/bundle/test-support.ts';
import { postgresUnavailable, startPostgres, type RunningPostgres } from '../../test/support/postgres.ts';
import { enrollTestDevice, startHarness, type Caller, type EnrolledTestDevice, type Harness, type HarnessOptions } from '../service.test-support.ts';
import { sha256Hex, TusClient } from './tus.test-support.ts';

const BUCKET = 'custody-recordings';

function motoUnavailable(): string | undefined {
  const found = spawnSync('moto_server', ['--help'], { stdio: 'ignore' });
  return found.error === undefined && found.status === 0 ? undefined : 'moto_server is not installed here (pip install "moto[server]"): the instances need an S3-compatible bucket with Object Lock';
}

/** moto_server on a free port of 127.0.0.1, once it answers. */
async function startMoto(): Promise<{ endpoint: string; process: ChildProcess }> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  moto.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = AbortSignal.timeout(30_000);
  while (!(await fetch(`${endpoint}/moto-api/`).then(() => true, () => false))) {
    if (deadline.aborted || moto.exitCode !== null) throw new Error(`moto_server did not start: ${stderr.join('').slice(-2000)}`);
    await sleep(100);
  }
  return { endpoint, process: moto };
}

/**
 * A PATCH whose body is held open after `first` bytes: the instance holds the upload's lock
 * while it waits for the rest. `finish` sends the rest and gives the status (0: the connection
 * was closed).
 */
function heldPatch(client: TusClient, path: string, offset: number, chunk: Uint8Array, first: number): Promise<{ finish(): Promise<number> }> {
  return new Promise((resolve) => {
    const req = httpRequest(new URL(path, client.base), {
      method: 'PATCH',
      headers: client.headers({ 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'content-length': String(chunk.length) }),
    });
    const status = new Promise<number>((settle) => {
      req.on('error', () => settle(0));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => settle(res.statusCode ?? 0));
      });
    });
    req.write(chunk.subarray(0, first), () => {
      // Let the bytes reach the instance (and it take the lock) before the other request comes.
      setTimeout(() => {
        resolve({
          finish: () => {
            if (!req.destroyed) req.end(chunk.subarray(first));
            return status;
          },
        });
      }, 500);
    });
  });
}

describe('instances on one PostgreSQL database and one bucket', { skip: postgresUnavailable() ?? motoUnavailable() ?? false }, () => {
  let postgres: RunningPostgres;
  let moto: ChildProcess;
  let s3: S3Client;
  let endpoint: string;
  let options: HarnessOptions;
  /** The first instance: owns the IdP and the data directory (keys) the others share. */
  let org: Harness;
  const others: Harness[] = [];
  let alice: Caller;
  let device: EnrolledTestDevice;
  let trustRoot: TrustRoot;

  const instance = async (): Promise<Harness> => {
    const started = await startHarness({ ...options, shareWith: org });
    others.push(started);
    return started;
  };
  const deviceBundle = (sessionId: string): Uint8Array => {
    const built = buildBundle({ sessionId, startedAt: Date.now(), deviceKey: device.key });
    return repack({ ...built.contents, deviceCert: utf8(device.certificate) }, device.key);
  };
  const uploadsLeft = async (): Promise<string[]> => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'uploads/' }));
    return (listed.Contents ?? []).map((object) => object.Key ?? '');
  };
  const assertArchivedIntact = async (via: Harness, sessionId: string, bytes: Uint8Array, envelope: Parameters<typeof verifyReceipt>[0]): Promise<void> => {
    const receipt = verifyReceipt(envelope, trustRoot);
    assert.equal(receipt.uploadedSha256, sha256Hex(bytes));
    assert.equal(receipt.verdict, 'intact');
    const exported = new Uint8Array(await (await (await via.as('dave')).get(`/v1/sessions/${sessionId}/bundle`)).arrayBuffer());
    assert.equal(verifyBundle(exported, { trustRoot }).status, 'intact');
  };

  before(async () => {
    // The SDK's credential chain (as in production); moto accepts any key.
    process.env['AWS_ACCESS_KEY_ID'] ??= 'custody-test';
    process.env['AWS_SECRET_ACCESS_KEY'] ??= 'custody-test';
    postgres = await startPostgres();
    const started = await startMoto();
    moto = started.process;
    endpoint = started.endpoint;
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET, ObjectLockEnabledForBucket: true }));
    options = {
      database: { kind: 'postgres', url: await postgres.freshDatabase(), maxConnections: 5 },
      config: { blobs: { kind: 's3', bucket: BUCKET, endpoint, forcePathStyle: true, objectLock: 'COMPLIANCE' }, archive: { sweepIntervalMinutes: 0 } },
    };
    org = await startHarness(options);
    alice = await org.as('alice');
    device = await enrollTestDevice(alice, 0x5c);
    trustRoot = TrustRootSchema.parse(await (await org.anonymous().get('/v1/trust-root')).json());
  });
  after(async () => {
    for (const other of others) await other.stop().catch(() => undefined);
    await org?.stop();
    s3?.destroy();
    moto?.kill();
    await postgres?.stop();
  });

  test('an upload begun on one instance is finished on another after the first stops; the receipt verifies offline', async () => {
    const a = await instance();
    const b = await instance();
    const bytes = deviceBundle('scale-out-1');
    const onA = new TusClient(a.service.url, alice.tokens.accessToken);
    const path = await onA.createOk(bytes.length, { sessionId: 'scale-out-1', sha256: sha256Hex(bytes) });
    const half = Math.floor(bytes.length / 2);
    assert.equal((await onA.patch(path, 0, bytes.subarray(0, half))).status, 204);
    assert.ok((await uploadsLeft()).includes(`uploads/${path.split('/').pop()}.info`), 'the upload is kept in the bucket, not on A');
    await a.stop();
    others.splice(others.indexOf(a), 1);

    const onB = new TusClient(b.service.url, alice.tokens.accessToken);
    assert.equal(await onB.offset(path), half, 'B knows the upload A began, and its offset');
    const done = await onB.send(path, bytes, half);
    assert.equal(done.status, 200, await done.clone().text());
    await assertArchivedIntact(b, 'scale-out-1', bytes, IngestResultSchema.parse(await done.json()).envelope);
    assert.deepEqual(await uploadsLeft(), [], 'the finished upload is gone from the bucket');
    assert.equal((await fetch(new URL(path, org.service.url), { method: 'HEAD', headers: onB.headers() })).status, 404, 'and every instance says so');
  });

  test('a PATCH on one instance while another writes the same upload is refused; the upload is not corrupted', async () => {
    const b = others[0] ?? (await instance());
    const bytes = deviceBundle('scale-out-2');
    const onOrg = new TusClient(org.service.url, alice.tokens.accessToken);
    const onB = new TusClient(b.service.url, alice.tokens.accessToken);
    const path = await onOrg.createOk(bytes.length, { sessionId: 'scale-out-2', sha256: sha256Hex(bytes) });
    const half = Math.floor(bytes.length / 2);
    const writing = await heldPatch(onOrg, path, 0, bytes.subarray(0, half), Math.floor(half / 2));
    // The same chunk at the same offset on B: B asks the holder to let go, and then the offset has moved.
    const second = await onB.patch(path, 0, bytes.subarray(0, half));
    assert.ok([409, 423].includes(second.status), `the second writer is refused (${second.status}: ${await second.text()})`);
    await writing.finish();

    const offset = await onB.offset(path);
    assert.ok(offset > 0 && offset <= half, `the upload holds one writer's bytes (offset ${offset} of ${half})`);
    const done = await onB.send(path, bytes, offset);
    assert.equal(done.status, 200, await done.clone().text());
    await assertArchivedIntact(b, 'scale-out-2', bytes, IngestResultSchema.parse(await done.json()).envelope);
  });

  test('a complete upload an instance left un-ingested in the bucket is ingested by the next instance to start, as the service', async () => {
    const bytes = deviceBundle('scale-out-3');
    // What an instance leaves when it stops between the last byte and the ingest: tus's own S3 store, written directly.
    const store = new S3Store({ s3ClientConfig: { bucket: BUCKET, endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } });
    const id = `uploads/${randomBytes(16).toString('hex')}`;
    await store.create(new Upload({ id, size: bytes.length, offset: 0, metadata: { sessionId: 'scale-out-3', sha256: sha256Hex(bytes), owner: 'alice' } }));
    assert.equal(await store.write(Readable.from([Buffer.from(bytes)]), id, 0), bytes.length);
    assert.ok((await uploadsLeft()).includes(id));

    const next = await instance();
    const receipt = await fetch(new URL('/v1/sessions/scale-out-3/receipt', next.service.url), { headers: { authorization: `Bearer ${alice.tokens.accessToken}` } });
    assert.equal(receipt.status, 200, await receipt.clone().text());
    await assertArchivedIntact(next, 'scale-out-3', bytes, IngestResultSchema.parse(await receipt.json()).envelope);
    const [row] = await next.service.db.all<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'archive.store' AND target = 'scale-out-3'");
    assert.equal(row?.actor, 'system');
    assert.match(row.details, /"uploader":"alice"/);
    assert.deepEqual(await uploadsLeft(), [], 'the ingested upload is gone from the bucket');
  });
});
