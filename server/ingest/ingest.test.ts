/**
 * Ingest end to end over real HTTP: the service with the dev IdP, real tus uploads (raw PATCH and
 * HEAD), bundles built with shared/bundle the way the recorder builds them, the real directory
 * blob store. What a user sees: receipts that verify offline, stored objects that verify, and
 * refusals that say why.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Upload } from 'tus-js-client';
import { IngestRefusalSchema, IngestResultSchema, SERVICE_NOTE_KEY_NAME, verifyReceipt } from '../../shared/api/ingest.ts';
import { CAST_ENTRY, keyIdOf, MANIFEST_ENTRY, MANIFEST_PAYLOAD_TYPE, NOTES_ENTRY, nobleSuite, openEnvelope, parseNote, splitNotes, verifyBundle, verifyEnvelope, verifyNoteSignature, type TrustRoot } from '../../shared/bundle/index.ts';
import { buildBundle, describeReport, DEVICE_KEY, entriesOf, SESSION_KEY, sessionKeyName, withEntry, type BundleOptions } from '../../shared/bundle/test-support.ts';
import { formatCheckpoint, originForSession, signNote } from '../../shared/bundle/note.ts';
import { sweepExpired } from '../archive/retention.ts';
import { archiveModule } from '../archive/routes.ts';
import { DirectoryBlobStore } from '../blobs/directory-store.ts';
import type { ServiceKeys } from '../keys/service-keys.ts';
import { postgresUnavailable, startPostgres, type RunningPostgres } from '../../test/support/postgres.ts';
import { startHarness, type Caller, type Harness } from '../service.test-support.ts';
import { ingestModule } from './routes.ts';
import { trustRootOf } from '../keys/service-keys.ts';
import { sha256Hex, TusClient } from './tus.test-support.ts';
import { ConfigError, parseConfig } from '../config.ts';
import { DEV_ROLE_GROUPS } from '../dev-idp/dev-idp.ts';

const DAY = 86_400_000;

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`ingest over HTTP with tus (${database === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`, { skip: database === 'postgres' ? postgresUnavailable() : false }, () => {
    let postgres: RunningPostgres | undefined;
    let harness: Harness;
    let blobDir: string;
    let blobs: DirectoryBlobStore;
    let keys: ServiceKeys;
    let trustRoot: TrustRoot;
    let alice: Caller;
    let bob: Caller;
    let dave: Caller;
    let erin: Caller;
    let carol: Caller;
    let frank: Caller;
    let n = 0;
    /** Device key ids enrollment calls revoked. */
    const revoked = new Set<string>();
    const sessionId = (): string => `sess-${process.pid}-${++n}`;

    /** A sealed bundle whose device the service's own org root certified (an enrolled device). */
    const bundle = (options: BundleOptions = {}): ReturnType<typeof buildBundle> => {
      const startedAt = options.startedAt ?? Date.now() - 60_000;
      return buildBundle({ startedAt, ...options, deviceCert: { issuer: keys.orgRoot, notBefore: startedAt - DAY, notAfter: startedAt + 30 * DAY, subject: { sub: 'alice' }, ...options.deviceCert } });
    };
    const tus = (caller: Caller): TusClient => new TusClient(harness.service.url, caller.tokens.accessToken);

    before(async () => {
      blobDir = await mkdtemp(join(tmpdir(), 'custody-blobs-'));
      blobs = new DirectoryBlobStore(blobDir);
      if (database === 'postgres') postgres = await startPostgres();
      harness = await startHarness({
        ...(postgres === undefined ? {} : { database: { kind: 'postgres', url: await postgres.freshDatabase(), maxConnections: 8 } }),
        extraModules: [
          ingestModule({ blobs, trustRoot: () => Promise.resolve(trustRoot), deviceStanding: (_db, id) => Promise.resolve(revoked.has(id) ? 'revoked' : 'enrolled') }),
          archiveModule({ blobs }),
        ],
        config: { limits: { uploadBytes: 1024 * 1024, recordingBytes: 1024 * 1024 }, archive: { retentionDays: 30, sweepIntervalMinutes: 0 } },
      });
      keys = harness.service.context.keys;
      trustRoot = trustRootOf(keys, 'test');
      alice = await harness.as('alice');
      bob = await harness.as('bob');
      carol = await harness.as('carol');
      dave = await harness.as('dave');
      erin = await harness.as('erin');
      frank = await harness.as('frank');
    });
    after(async () => {
      await harness?.stop();
      await postgres?.stop();
      await rm(blobDir, { recursive: true, force: true });
    });

    test('an intact bundle sent in chunks is cosigned and stored; the receipt and the stored object verify offline against the trust root', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id });
      const response = await tus(alice).upload(built.bytes, id, 1000);
      assert.equal(response.status, 200, await response.clone().text());
      const result = IngestResultSchema.parse(await response.json());

      const receipt = verifyReceipt(result.envelope, trustRoot);
      assert.equal(receipt.sessionId, id);
      assert.equal(receipt.uploadedSha256, sha256Hex(built.bytes));
      assert.equal(receipt.verdict, 'intact');
      assert.equal(receipt.tree.size, built.lines);
      assert.throws(() => verifyReceipt(result.envelope, { version: 1, keys: trustRoot.keys.filter((k) => k.role !== 'service') }), /does not hold/);
      const forged = { ...result.envelope, payload: Buffer.from(JSON.stringify({ ...receipt, size: receipt.size + 1 })).toString('base64') };
      assert.throws(() => verifyReceipt(forged, trustRoot), /not validly signed/);

      const stored = await blobs.get(receipt.storageKey);
      assert.ok(stored !== undefined);
      assert.equal(sha256Hex(stored), receipt.sha256);
      assert.equal(stored.length, receipt.size);
      const report = verifyBundle(stored, { trustRoot });
      assert.equal(report.status, 'intact', describeReport(report));
      assert.equal(report.trusted, true);
      const manifest = openEnvelope(entriesOf(stored).get(MANIFEST_ENTRY)!, MANIFEST_ENTRY, MANIFEST_PAYLOAD_TYPE);
      assert.ok(verifyEnvelope(nobleSuite, manifest, keys.service.publicKey), 'the stored manifest carries the service countersignature');
      assert.ok(verifyEnvelope(nobleSuite, manifest, DEVICE_KEY.publicKey), 'and still the device signature');
      assert.deepEqual(entriesOf(stored).get(CAST_ENTRY), built.contents.cast, 'the recording is byte for byte what was uploaded');
      assert.equal((await blobs.head(receipt.storageKey))?.retainUntil, receipt.storedAt + 30 * DAY);

      // The same bundle again: the same receipt, nothing stored twice.
      const again = await tus(alice).upload(built.bytes, id);
      assert.equal(again.status, 200);
      assert.deepEqual(IngestResultSchema.parse(await again.json()), result);
      const fetched = await alice.get(`/v1/sessions/${id}/receipt`);
      assert.deepEqual(IngestResultSchema.parse(await fetched.json()), result);
      const audit = (await (await dave.get('/v1/audit?limit=1000')).json()) as { entries: { action: string; target: string; actor: string }[] };
      assert.equal(audit.entries.filter((e) => e.action === 'archive.store' && e.target === id && e.actor === 'alice').length, 1);
    });

    test('tus-js-client, the client library the desktop uses, uploads a bundle in chunks and reads the receipt from the last response', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id });
      const body = await new Promise<string>((resolve, reject) => {
        const upload = new Upload(Buffer.from(built.bytes), {
          endpoint: new URL('/v1/uploads/', harness.service.url).href,
          chunkSize: 700,
          retryDelays: null,
          storeFingerprintForResuming: false,
          headers: { authorization: `Bearer ${alice.tokens.accessToken}` },
          metadata: { sessionId: id, sha256: sha256Hex(built.bytes), filename: `${id}.custody` },
          onSuccess: ({ lastResponse }) => resolve(lastResponse.getBody()),
          onError: reject,
        });
        upload.start();
      });
      const receipt = verifyReceipt(IngestResultSchema.parse(JSON.parse(body)).envelope, trustRoot);
      assert.equal(receipt.uploadedSha256, sha256Hex(built.bytes));
      assert.equal(receipt.sessionId, id);
    });

    test('a chunk replayed at an old offset is refused with 409, and the upload goes on from the offset the service holds', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id });
      const client = tus(alice);
      const path = await client.createOk(built.bytes.length, { sessionId: id, sha256: sha256Hex(built.bytes) });
      const first = await client.patch(path, 0, built.bytes.subarray(0, 500));
      assert.equal(first.status, 204);
      assert.equal(first.headers.get('upload-offset'), '500');
      const replay = await client.patch(path, 0, built.bytes.subarray(0, 500));
      assert.equal(replay.status, 409);
      const skipAhead = await client.patch(path, 900, built.bytes.subarray(900, 1000));
      assert.equal(skipAhead.status, 409);
      assert.equal(await client.offset(path), 500);
      const rest = await client.send(path, built.bytes, 500);
      assert.equal(rest.status, 200, await rest.clone().text());
      assert.equal(verifyReceipt(IngestResultSchema.parse(await rest.json()).envelope, trustRoot).uploadedSha256, sha256Hex(built.bytes));
    });

    test('an upload longer than limits.uploadBytes is refused with 413 before a byte is sent; one without a length, or too short to be a bundle, with 400', async () => {
      const response = await tus(alice).create(1024 * 1024 + 1, { sessionId: sessionId(), sha256: '0'.repeat(64) });
      assert.equal(response.status, 413);
      const deferred = await fetch(new URL('/v1/uploads/', harness.service.url), { method: 'POST', headers: tus(alice).headers({ 'upload-defer-length': '1', 'upload-metadata': 'sessionId eA==,sha256 eA==' }) });
      assert.notEqual(deferred.status, 201);
      const empty = await tus(alice).create(0, { sessionId: sessionId(), sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' });
      assert.equal(empty.status, 400, 'an empty upload would be finished (and judged) at creation');
    });

    test('a connection cut in the middle of a PATCH is resumed from the offset HEAD reports', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id, events: Array.from({ length: 400 }, (_, i) => ({ interval: 0.01, code: 'o' as const, data: `line ${i} of a long listing\r\n` })) });
      const client = tus(alice);
      const path = await client.createOk(built.bytes.length, { sessionId: id, sha256: sha256Hex(built.bytes) });
      await client.cutPatch(path, 0, built.bytes, Math.floor(built.bytes.length / 2));
      const offset = await client.offset(path);
      assert.ok(offset < built.bytes.length, `the cut PATCH did not complete the upload (offset ${offset})`);
      const rest = await client.send(path, built.bytes, offset);
      assert.equal(rest.status, 200, await rest.clone().text());
      const receipt = verifyReceipt(IngestResultSchema.parse(await rest.json()).envelope, trustRoot);
      assert.equal(receipt.uploadedSha256, sha256Hex(built.bytes), 'the resumed upload is byte for byte the bundle');
    });

    test('a bundle that inflates past limits.recordingBytes is quarantined with the zip reader\'s reason, not ingested', async () => {
      const id = sessionId();
      // ~1.2 MB of output that compresses well: the upload is small, the recording is not.
      const built = bundle({ sessionId: id, events: Array.from({ length: 300 }, (_, i) => ({ interval: 0.01, code: 'o' as const, data: `${i} ${'ok '.repeat(1300)}\r\n` })) });
      assert.ok(built.bytes.length < 1024 * 1024 && built.contents.cast.length > 1024 * 1024);
      const response = await tus(alice).upload(built.bytes, id);
      assert.equal(response.status, 422);
      const refusal = IngestRefusalSchema.parse(JSON.parse(await response.text()));
      assert.equal(refusal.error, 'quarantined');
      assert.match(refusal.message, /failed verification: .*over the 1048576-byte cap/);
      assert.ok(Buffer.from(built.bytes).equals((await blobs.get(refusal.quarantineKey!))!), 'kept as uploaded');
      assert.equal((await alice.get(`/v1/sessions/${id}`)).status, 404, 'nothing was stored as the session');
    });

    test('a checkpoint whose signature is forged: the report names the bad signature (the deferred checks failed, so the bundle was verified again strictly)', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id });
      const notes = Buffer.from(built.contents.notes).toString('utf8');
      // The second note's signature line: change one base64 character of the signature itself.
      const lines = notes.split('\n');
      const at = lines.findIndex((line, i) => line.startsWith('\u2014 ') && lines.slice(0, i).some((l) => l.startsWith('\u2014 ')));
      const line = lines[at]!;
      lines[at] = `${line.slice(0, -10)}${line.at(-10) === 'A' ? 'B' : 'A'}${line.slice(-9)}`;
      const forged = withEntry(built.bytes, NOTES_ENTRY, Buffer.from(lines.join('\n')));
      const response = await tus(alice).upload(forged, id);
      assert.equal(response.status, 422);
      const refusal = IngestRefusalSchema.parse(JSON.parse(await response.text()));
      assert.ok(refusal.findings?.some((f) => f.status === 'bad-signature'), JSON.stringify(refusal));
      assert.match(refusal.message, /checkpoint 2 .*has no valid signature/);
      const report = JSON.parse(Buffer.from((await blobs.get(refusal.quarantineKey!.replace(/\.custody$/, '.report.json')))!).toString()) as { report: { status: string } };
      assert.equal(report.report.status, 'bad-signature');
    });

    test('a tampered bundle is quarantined with the verifier\'s report, kept, alerted on, and the client is told why', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id });
      const cast = Buffer.from(built.contents.cast).toString('utf8').replace('README.md', 'README.mx');
      const tampered = withEntry(built.bytes, CAST_ENTRY, Buffer.from(cast));
      const response = await tus(alice).upload(tampered, id);
      assert.equal(response.status, 422);
      const refusal = IngestRefusalSchema.parse(JSON.parse(await response.text()));
      assert.equal(refusal.error, 'quarantined');
      assert.match(refusal.message, /failed verification: .*changed in events/);
      assert.ok(refusal.findings?.some((f) => f.status === 'tampered'));
      const kept = await blobs.get(refusal.quarantineKey!);
      assert.deepEqual(kept, tampered, 'the quarantined object is exactly what was uploaded');
      const report = JSON.parse(Buffer.from((await blobs.get(refusal.quarantineKey!.replace(/\.custody$/, '.report.json')))!).toString()) as { report: { status: string } };
      assert.equal(report.report.status, 'tampered');
      assert.ok(harness.logs.some((line) => line.includes('"level":40') && line.includes('quarantined') && line.includes(id)), 'a warn line is the alert');
      const listed = (await (await dave.get('/v1/quarantine')).json()) as { entries: { sessionId: string; storageKey: string }[] };
      assert.ok(listed.entries.some((e) => e.sessionId === id && e.storageKey === refusal.quarantineKey));
      const audit = (await (await dave.get('/v1/audit?limit=1000')).json()) as { entries: { action: string; target: string }[] };
      assert.ok(audit.entries.some((e) => e.action === 'ingest.quarantine' && e.target === id));
      await assert.rejects(blobs.deleteExpired(refusal.quarantineKey!, Date.now() + 100 * 365 * DAY), 'the store will not delete it either');
      assert.equal((await alice.get(`/v1/sessions/${id}`)).status, 404, 'nothing was stored as the session');
    });

    test('a bundle from an untrusted device, one recorded on another user\'s device, and one whose upload does not hash to what the client declared, are quarantined', async () => {
      const stranger = buildBundle({ sessionId: sessionId(), startedAt: Date.now() - 60_000 });
      const response = await tus(alice).upload(stranger.bytes, stranger.contents.predicate.sessionId);
      assert.equal(response.status, 422);
      assert.match(IngestRefusalSchema.parse(await response.json()).message, /not trusted/);

      const bobs = bundle({ sessionId: sessionId(), deviceCert: { subject: { sub: 'bob' } } });
      const claimed = await tus(alice).upload(bobs.bytes, bobs.contents.predicate.sessionId);
      assert.equal(claimed.status, 403);
      assert.match(IngestRefusalSchema.parse(await claimed.json()).message, /enrolled to bob; only they may upload it/);

      const id = sessionId();
      const built = bundle({ sessionId: id });
      const client = tus(alice);
      const path = await client.createOk(built.bytes.length, { sessionId: id, sha256: 'a'.repeat(64) });
      const lied = await client.send(path, built.bytes);
      assert.equal(lied.status, 422);
      assert.match(IngestRefusalSchema.parse(await lied.json()).message, /changed on the way/);
    });

    test('another bundle for a stored session is refused with 409: at creation, and at the end when both were under way', async () => {
      const id = sessionId();
      const first = bundle({ sessionId: id });
      const second = bundle({ sessionId: id, events: [{ interval: 0.1, code: 'o', data: 'a different past\r\n' }] });
      const client = tus(alice);
      const pathA = await client.createOk(first.bytes.length, { sessionId: id, sha256: sha256Hex(first.bytes) });
      const pathB = await client.createOk(second.bytes.length, { sessionId: id, sha256: sha256Hex(second.bytes) });
      assert.equal((await client.send(pathA, first.bytes)).status, 200);
      const late = await client.send(pathB, second.bytes);
      assert.equal(late.status, 409);
      const refusal = IngestRefusalSchema.parse(await late.json());
      assert.match(refusal.message, /already stored from another bundle/);
      assert.deepEqual(await blobs.get(refusal.quarantineKey!), second.bytes, 'the second is quarantined, not dropped');
      const created = await client.create(second.bytes.length, { sessionId: id, sha256: sha256Hex(second.bytes) });
      assert.equal(created.status, 409);
    });

    test('concurrent uploads: the same bundle five times at once gets one receipt and one object; two bundles of one session at once, one stored and one quarantined', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id });
      const client = tus(alice);
      const paths = await Promise.all(Array.from({ length: 5 }, () => client.createOk(built.bytes.length, { sessionId: id, sha256: sha256Hex(built.bytes) })));
      const responses = await Promise.all(paths.map((path) => client.send(path, built.bytes)));
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 200]);
      const receipts = await Promise.all(responses.map(async (r) => IngestResultSchema.parse(await r.json()).receipt));
      for (const receipt of receipts) assert.deepEqual(receipt, receipts[0]);
      assert.equal((await blobs.head(receipts[0]!.storageKey))?.sha256, receipts[0]!.sha256);

      const id2 = sessionId();
      const first = bundle({ sessionId: id2 });
      const second = bundle({ sessionId: id2, startedAt: Date.now() - 120_000, events: [{ interval: 0.1, code: 'o', data: 'another past\r\n' }] });
      const [pathA, pathB] = await Promise.all([first, second].map((b) => client.createOk(b.bytes.length, { sessionId: id2, sha256: sha256Hex(b.bytes) })));
      const both = await Promise.all([client.send(pathA!, first.bytes), client.send(pathB!, second.bytes)]);
      assert.deepEqual(both.map((r) => r.status).sort(), [200, 409]);
      const winner = both.find((r) => r.status === 200)!;
      const loser = both.find((r) => r.status === 409)!;
      const stored = IngestResultSchema.parse(await winner.json()).receipt;
      const refusal = IngestRefusalSchema.parse(await loser.json());
      assert.notEqual(refusal.quarantineKey, undefined);
      assert.equal((await blobs.head(stored.storageKey))?.sha256, stored.sha256, 'the stored object is the winner\'s');
      const kept = await blobs.get(refusal.quarantineKey!);
      assert.ok(kept !== undefined && [sha256Hex(first.bytes), sha256Hex(second.bytes)].filter((h) => h !== stored.uploadedSha256).includes(sha256Hex(kept)), 'the loser is in quarantine');
    });

    test('tus requests without a token are refused with 401; another admin\'s upload does not exist for them; approvers cannot upload', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id });
      const path = await tus(alice).createOk(built.bytes.length, { sessionId: id, sha256: sha256Hex(built.bytes) });
      const anonymous = new TusClient(harness.service.url, '');
      assert.equal((await anonymous.create(10, { sessionId: id, sha256: 'a'.repeat(64) })).status, 401);
      assert.equal((await anonymous.patch(path, 0, built.bytes)).status, 401);
      assert.equal((await fetch(new URL(path, harness.service.url), { method: 'HEAD', headers: anonymous.headers() })).status, 401);
      assert.equal((await tus(bob).patch(path, 0, built.bytes)).status, 404);
      assert.equal((await fetch(new URL(path, harness.service.url), { method: 'HEAD', headers: tus(bob).headers() })).status, 404);
      assert.equal((await tus(carol).create(10, { sessionId: sessionId(), sha256: 'a'.repeat(64) })).status, 403);
      assert.equal((await fetch(new URL(path, harness.service.url), { method: 'DELETE', headers: tus(alice).headers() })).status, 404, 'uploads cannot be terminated');
      assert.equal(await tus(alice).offset(path), 0);
    });

    test('path tricks in ids are refused: ../, %2e%2e, absolute paths, in session ids, upload ids and upload metadata', async () => {
      const raw = (method: string, path: string, token: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const url = new URL(harness.service.url);
          const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
      for (const path of ['/v1/sessions/..', '/v1/sessions/%2e%2e', '/v1/sessions/%2E%2E/receipt', '/v1/sessions/%2Fetc%2Fpasswd', '/v1/sessions/..%2F..%2Fkeys%2Forg-root.key/bundle', '/v1/sessions/%2e']) {
        const status = await raw('GET', path, dave.tokens.accessToken);
        assert.ok(status === 400 || status === 404, `${path}: ${status}`);
      }
      for (const path of ['/v1/uploads/..', '/v1/uploads/%2e%2e', '/v1/uploads/..%2F..%2Fkeys%2Forg-root.key', '/v1/uploads/%2Fetc%2Fpasswd']) {
        const status = await raw('HEAD', path, alice.tokens.accessToken);
        assert.ok(status === 400 || status === 404, `${path}: ${status}`);
        assert.ok([400, 404].includes(await raw('PATCH', path, alice.tokens.accessToken)), path);
      }
      for (const bad of ['..', '.', '../../keys', '/etc/passwd', '%2e%2e']) {
        const response = await tus(alice).create(100, { sessionId: bad, sha256: 'a'.repeat(64) });
        assert.equal(response.status, 400, bad);
        assert.match(await response.text(), /sessionId/);
      }
    });

    test('roles: an admin reads only their own sessions, an auditor reads and exports all, and nobody can change or delete one', async () => {
      const id = sessionId();
      const built = bundle({ sessionId: id });
      const stored = IngestResultSchema.parse(await (await tus(alice).upload(built.bytes, id)).json());

      assert.equal((await alice.get(`/v1/sessions/${id}`)).status, 200);
      assert.equal((await bob.get(`/v1/sessions/${id}`)).status, 404, 'another admin\'s session does not exist for bob');
      assert.equal((await bob.get(`/v1/sessions/${id}/receipt`)).status, 404);
      assert.equal((await bob.get('/v1/sessions?owner=alice')).status, 403);
      const bobs = (await (await bob.get('/v1/sessions')).json()) as { sessions: { sessionId: string }[] };
      assert.ok(!bobs.sessions.some((s) => s.sessionId === id));
      assert.equal((await frank.get(`/v1/sessions/${id}`)).status, 403);
      assert.equal((await erin.get(`/v1/sessions/${id}`)).status, 403);

      const detail = (await (await dave.get(`/v1/sessions/${id}`)).json()) as { owner: string; sha256: string };
      assert.equal(detail.owner, 'alice');
      assert.equal((await alice.get(`/v1/sessions/${id}/bundle`)).status, 403, 'exports are for auditors');
      const exported = await dave.get(`/v1/sessions/${id}/bundle`);
      assert.equal(exported.status, 200);
      const bytes = new Uint8Array(await exported.arrayBuffer());
      assert.equal(sha256Hex(bytes), stored.receipt.sha256);
      assert.equal(verifyBundle(bytes, { trustRoot }).status, 'intact');
      const audit = (await (await dave.get('/v1/audit?limit=1000')).json()) as { entries: { action: string; target: string; actor: string }[] };
      assert.ok(audit.entries.some((e) => e.action === 'archive.export' && e.target === id && e.actor === 'dave'));

      for (const caller of [alice, dave, erin]) {
        for (const [method, path] of [['DELETE', `/v1/sessions/${id}`], ['PUT', `/v1/sessions/${id}/bundle`], ['DELETE', `/v1/sessions/${id}/bundle`], ['PATCH', `/v1/sessions/${id}`]] as const) {
          const response = await caller.request(method, path);
          assert.ok(response.status === 404 || response.status === 405, `${method} ${path}: ${response.status}`);
        }
      }
      assert.deepEqual(await blobs.get(stored.receipt.storageKey), bytes, 'the stored object is unchanged');
    });

    test('legal hold: a service admin sets and clears it, a held recording outlives its retention, and only service admins may', async () => {
      const id = sessionId();
      const stored = IngestResultSchema.parse(await (await tus(alice).upload(bundle({ sessionId: id }).bytes, id)).json());
      assert.equal((await dave.request('PUT', `/v1/sessions/${id}/legal-hold`, { body: JSON.stringify({ on: true, reason: 'x' }), headers: { 'content-type': 'application/json' } })).status, 403);
      const held = await erin.request('PUT', `/v1/sessions/${id}/legal-hold`, { body: JSON.stringify({ on: true, reason: 'litigation 2026-17' }), headers: { 'content-type': 'application/json' } });
      assert.equal(held.status, 200);
      assert.equal((await blobs.head(stored.receipt.storageKey))?.legalHold, true);
      const later = stored.receipt.storedAt + 31 * DAY;
      const swept = await sweepExpired(harness.service.db, blobs, later);
      assert.ok(!swept.expired.includes(id), 'held: not swept');
      assert.ok((await blobs.get(stored.receipt.storageKey)) !== undefined);

      await erin.request('PUT', `/v1/sessions/${id}/legal-hold`, { body: JSON.stringify({ on: false, reason: 'case closed' }), headers: { 'content-type': 'application/json' } });
      const early = await sweepExpired(harness.service.db, blobs, stored.receipt.storedAt + DAY);
      assert.ok(!early.expired.includes(id), 'within retention: not swept');
      const swept2 = await sweepExpired(harness.service.db, blobs, later);
      assert.ok(swept2.expired.includes(id));
      assert.equal(await blobs.get(stored.receipt.storageKey), undefined);
      const detail = (await (await dave.get(`/v1/sessions/${id}`)).json()) as { expiredAt: number | null };
      assert.equal(detail.expiredAt, later, 'the index keeps the row and says when it expired');
      assert.equal((await dave.get(`/v1/sessions/${id}/bundle`)).status, 410);
      const audit = (await (await dave.get('/v1/audit?limit=1000')).json()) as { entries: { action: string; target: string; actor: string }[] };
      assert.deepEqual(
        audit.entries.filter((e) => e.target === id).map((e) => `${e.actor} ${e.action}`),
        ['alice archive.store', 'erin archive.legal-hold.set', 'erin archive.legal-hold.clear', 'system archive.expire'],
      );
    });

    test('live checkpoints are checked against the chain held, cosigned and acknowledged; the bundle must then contain them', async () => {
      const id = sessionId();
      const startedAt = Date.now() - 60_000;
      const built = bundle({ sessionId: id, startedAt });
      const start = { sessionKeyCert: Buffer.from(built.contents.sessionKeyCert).toString('base64'), deviceCert: Buffer.from(built.contents.deviceCert!).toString('base64') };
      assert.equal((await alice.post(`/v1/sessions/${id}/checkpoints`, { note: 'x' })).status, 409, 'not started');
      const started = await alice.post(`/v1/sessions/${id}`, start);
      assert.equal(started.status, 201, await started.clone().text());
      assert.equal((await alice.post(`/v1/sessions/${id}`, start)).status, 200, 'the same start again');
      assert.equal((await bob.post(`/v1/sessions/${id}`, start)).status, 403, 'someone else\'s session');
      assert.equal((await alice.post(`/v1/sessions/${id}`, { sessionKeyCert: start.sessionKeyCert })).status, 200, 'idempotent without the device cert once known');

      const notes = splitNotes(Buffer.from(built.contents.notes).toString('utf8')).map((n) => n.note);
      assert.ok(notes.length >= 3);
      assert.equal((await alice.post(`/v1/sessions/${id}/checkpoints`, { note: notes[1] })).status, 409, 'the first checkpoint is missing');
      const half = Math.ceil(notes.length / 2);
      for (let i = 0; i < half; i++) {
        const response = await alice.post(`/v1/sessions/${id}/checkpoints`, { note: notes[i] });
        assert.equal(response.status, 201, await response.clone().text());
        const ack = (await response.json()) as { index: number; cosigned: string };
        assert.equal(ack.index, i + 1);
        const cosigned = parseNote(ack.cosigned, { entry: 'ack', line: 1, label: 'ack' });
        assert.ok(verifyNoteSignature(nobleSuite, cosigned, SERVICE_NOTE_KEY_NAME, keys.service.publicKey), 'the service signed it');
        assert.ok(verifyNoteSignature(nobleSuite, cosigned, sessionKeyName(id), SESSION_KEY.publicKey), 'and the session key\'s signature is still there');
      }
      assert.equal((await alice.post(`/v1/sessions/${id}/checkpoints`, { note: notes[0] })).status, 200, 'a retried checkpoint is answered again');
      const listed = (await (await dave.get(`/v1/sessions/${id}/checkpoints`)).json()) as { checkpoints: { index: number; cosigned: string }[] };
      assert.deepEqual(listed.checkpoints.map((c) => c.index), Array.from({ length: half }, (_, i) => i + 1), 'an auditor reads what was cosigned');
      assert.equal((await alice.get(`/v1/sessions/${id}/checkpoints`)).status, 200);
      assert.equal((await bob.get(`/v1/sessions/${id}/checkpoints`)).status, 404, 'another admin does not');
      assert.equal((await bob.post(`/v1/sessions/${id}/checkpoints`, { note: notes[half] })).status, 403);

      // A checkpoint honestly signed by the session key, chained, but attesting a smaller tree.
      const lastText = notes[half - 1]!.slice(0, notes[half - 1]!.lastIndexOf('\n\n') + 1);
      const prev = nobleSuite.sha256(Buffer.from(lastText));
      const shrunk = signNote(nobleSuite, formatCheckpoint({ origin: originForSession(id), size: 1, root: new Uint8Array(32), kind: 'interval', time: startedAt + 10_000, prev }), sessionKeyName(id), SESSION_KEY);
      const refused = await alice.post(`/v1/sessions/${id}/checkpoints`, { note: shrunk });
      assert.equal(refused.status, 409);
      assert.match(((await refused.json()) as { message: string }).message, /never shrinks/);
      const backwards = signNote(nobleSuite, formatCheckpoint({ origin: originForSession(id), size: 1000, root: new Uint8Array(32), kind: 'interval', time: startedAt - 10_000, prev }), sessionKeyName(id), SESSION_KEY);
      assert.match(((await (await alice.post(`/v1/sessions/${id}/checkpoints`, { note: backwards })).json()) as { message: string }).message, /before checkpoint/);
      const forged = signNote(nobleSuite, formatCheckpoint({ origin: originForSession(id), size: 1000, root: new Uint8Array(32), kind: 'interval', time: startedAt + 10_000, prev }), sessionKeyName(id), DEVICE_KEY);
      assert.equal((await alice.post(`/v1/sessions/${id}/checkpoints`, { note: forged })).status, 403, 'not signed by the session key');

      // A different past under the same session key: the bundle contradicts what was cosigned.
      const other = bundle({ sessionId: id, startedAt, events: [{ interval: 0.1, code: 'o', data: 'nothing to see\r\n' }, { interval: 0.1, code: 'i', data: 'exit\r' }] });
      assert.deepEqual(other.contents.sessionKeyCert, built.contents.sessionKeyCert);
      const contradicted = await tus(alice).upload(other.bytes, id);
      assert.equal(contradicted.status, 422);
      assert.match(IngestRefusalSchema.parse(await contradicted.json()).message, /contradicts checkpoints the service cosigned during the session/);

      const honest = await tus(alice).upload(built.bytes, id);
      assert.equal(honest.status, 200, await honest.clone().text());
      assert.equal(verifyReceipt(IngestResultSchema.parse(await honest.json()).envelope, trustRoot).cosignedCheckpoints, half);
      assert.ok(entriesOf(built.bytes).has(NOTES_ENTRY));
    });

    test('a revoked device\'s bundle is quarantined, and it can neither start nor stream a live session', async () => {
      const deviceKeyId = keyIdOf(nobleSuite, DEVICE_KEY.publicKey);
      const live = bundle({ sessionId: sessionId() });
      const liveId = live.contents.predicate.sessionId;
      const start = { sessionKeyCert: Buffer.from(live.contents.sessionKeyCert).toString('base64'), deviceCert: Buffer.from(live.contents.deviceCert!).toString('base64') };
      assert.equal((await alice.post(`/v1/sessions/${liveId}`, start)).status, 201);
      revoked.add(deviceKeyId);
      try {
        const note = splitNotes(Buffer.from(live.contents.notes).toString('utf8'))[0]!.note;
        assert.equal((await alice.post(`/v1/sessions/${liveId}/checkpoints`, { note })).status, 403);
        const other = bundle({ sessionId: sessionId() });
        assert.equal((await alice.post(`/v1/sessions/${other.contents.predicate.sessionId}`, { sessionKeyCert: Buffer.from(other.contents.sessionKeyCert).toString('base64'), deviceCert: start.deviceCert })).status, 403);
        const response = await tus(alice).upload(other.bytes, other.contents.predicate.sessionId);
        assert.equal(response.status, 403);
        const refusal = IngestRefusalSchema.parse(await response.json());
        assert.match(refusal.message, /was revoked/);
        assert.deepEqual(await blobs.get(refusal.quarantineKey!), other.bytes, 'kept in quarantine');
      } finally {
        revoked.delete(deviceKeyId);
      }
    });
  });
}

test('config load: uploads and recordings default to 256 MiB, and more than ingest holds in memory (448 MiB) is refused with the reason', () => {
  const MiB = 1024 * 1024;
  const base = { dataDir: '/var/lib/custody', auth: { issuer: 'https://idp.example', audience: 'custody', roleGroups: DEV_ROLE_GROUPS } };
  const config = parseConfig(base);
  assert.equal(config.limits.uploadBytes, 256 * MiB);
  assert.equal(config.limits.recordingBytes, 256 * MiB);
  assert.equal(parseConfig({ ...base, limits: { uploadBytes: 448 * MiB, recordingBytes: 448 * MiB } }).limits.uploadBytes, 448 * MiB);
  assert.throws(() => parseConfig({ ...base, limits: { uploadBytes: 2048 * MiB } }), (error: unknown) => error instanceof ConfigError && /limits\.uploadBytes: is at most 448 MiB/.test(error.message));
  assert.throws(() => parseConfig({ ...base, limits: { recordingBytes: 449 * MiB } }), (error: unknown) => error instanceof ConfigError && /limits\.recordingBytes: is at most 448 MiB/.test(error.message));
});
