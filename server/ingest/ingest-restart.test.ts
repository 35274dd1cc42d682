/**
 * An upload survives the service: stop it in the middle of an upload, start it again on the same
 * data directory (the tus upload state is on disk), and the client resumes from the offset the
 * new process reports.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { IngestResultSchema, verifyReceipt } from '../../shared/api/ingest.ts';
import { verifyBundle } from '../../shared/bundle/verifier.ts';
import { buildBundle } from '../../shared/bundle/test-support.ts';
import { signInAs } from '../../test/support/idp.ts';
import { archiveModule } from '../archive/routes.ts';
import { DirectoryBlobStore } from '../blobs/directory-store.ts';
import { parseConfig } from '../config.ts';
import { DEV_ROLE_GROUPS, startDevIdp } from '../dev-idp/dev-idp.ts';
import { startService, type RunningService } from '../service.ts';
import { TEST_AUDIENCE } from '../service.test-support.ts';
import { ingestModule } from './routes.ts';
import { trustRootOf } from '../keys/service-keys.ts';
import { sha256Hex, TusClient } from './tus.test-support.ts';

const DAY = 86_400_000;

test('an upload half sent when the service stops is resumed after it starts again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'custody-restart-'));
  const idp = await startDevIdp({ port: 0, audience: TEST_AUDIENCE, keysFile: join(dir, 'idp-keys.json') });
  const blobs = new DirectoryBlobStore(join(dir, 'blobs'));
  const config = parseConfig({ dataDir: dir, auth: { issuer: idp.issuer, audience: TEST_AUDIENCE, roleGroups: DEV_ROLE_GROUPS }, archive: { sweepIntervalMinutes: 0 } });
  const start = (): Promise<RunningService> =>
    startService(config, { logStream: false, extraModules: [ingestModule({ blobs, trustRoot: () => Promise.resolve(trustRootOf(service!.context.keys, 'test')) }), archiveModule({ blobs })] });
  let service: RunningService | undefined;
  after(async () => {
    await service?.close();
    await idp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  service = await start();
  const { orgRoot } = service.context.keys;
  const startedAt = Date.now() - 60_000;
  const built = buildBundle({ sessionId: 'restart-1', startedAt, deviceCert: { issuer: orgRoot, notBefore: startedAt - DAY, notAfter: startedAt + DAY, subject: { sub: 'alice' } } });
  const alice = await signInAs(idp.issuer, 'alice', TEST_AUDIENCE);

  const before = new TusClient(service.url, alice.accessToken);
  const path = await before.createOk(built.bytes.length, { sessionId: 'restart-1', sha256: sha256Hex(built.bytes) });
  const half = Math.floor(built.bytes.length / 2);
  assert.equal((await before.patch(path, 0, built.bytes.subarray(0, half))).status, 204);
  await service.close();
  service = undefined;

  service = await start();
  const afterRestart = new TusClient(service.url, alice.accessToken);
  assert.equal(await afterRestart.offset(path), half, 'the new process knows the upload and its offset');
  const done = await afterRestart.send(path, built.bytes, half);
  assert.equal(done.status, 200, await done.clone().text());
  const result = IngestResultSchema.parse(await done.json());
  const root = trustRootOf(service.context.keys, 'test');
  const receipt = verifyReceipt(result.envelope, root);
  assert.equal(receipt.uploadedSha256, sha256Hex(built.bytes));
  const stored = await blobs.get(receipt.storageKey);
  assert.equal(verifyBundle(stored!, { trustRoot: root }).status, 'intact');
});

test('an upload that completed while ingest could not finish is ingested when the service starts again, as the service', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'custody-restart-'));
  const idp = await startDevIdp({ port: 0, audience: TEST_AUDIENCE, keysFile: join(dir, 'idp-keys.json') });
  const blobs = new DirectoryBlobStore(join(dir, 'blobs'));
  const config = parseConfig({ dataDir: dir, auth: { issuer: idp.issuer, audience: TEST_AUDIENCE, roleGroups: DEV_ROLE_GROUPS }, archive: { sweepIntervalMinutes: 0 } });
  let service: RunningService | undefined;
  let trustUnavailable = true;
  const start = (): Promise<RunningService> =>
    startService(config, {
      logStream: false,
      extraModules: [
        ingestModule({
          blobs,
          // The first process cannot reach the trust root (enrollment's database, say).
          trustRoot: () => (trustUnavailable ? Promise.reject(new Error('trust root unavailable')) : Promise.resolve(trustRootOf(service!.context.keys, 'test'))),
        }),
        archiveModule({ blobs }),
      ],
    });
  after(async () => {
    await service?.close();
    await idp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  service = await start();
  const startedAt = Date.now() - 60_000;
  const built = buildBundle({ sessionId: 'pending-1', startedAt, deviceCert: { issuer: service.context.keys.orgRoot, notBefore: startedAt - DAY, notAfter: startedAt + DAY, subject: { sub: 'alice' } } });
  const alice = await signInAs(idp.issuer, 'alice', TEST_AUDIENCE);
  const failed = await new TusClient(service.url, alice.accessToken).upload(built.bytes, 'pending-1');
  assert.equal(failed.status, 503);
  assert.match(await failed.text(), /will be ingested when the service restarts/);
  await service.close();

  trustUnavailable = false;
  service = await start();
  const receipt = await fetch(new URL('/v1/sessions/pending-1/receipt', service.url), { headers: { authorization: `Bearer ${alice.accessToken}` } });
  assert.equal(receipt.status, 200);
  const result = IngestResultSchema.parse(await receipt.json());
  assert.equal(verifyReceipt(result.envelope, trustRootOf(service.context.keys, 'test')).uploadedSha256, sha256Hex(built.bytes));
  const [row] = await service.db.all<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'archive.store' AND target = 'pending-1'");
  assert.equal(row?.actor, 'system');
  assert.match(row.details, /"uploader":"alice"/);
});
