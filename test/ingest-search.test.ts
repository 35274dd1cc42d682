/**
 * End to end across the recorder and the service: a session recorded by the real recorder (pty,
 * redaction, spool, bundle) is uploaded with tus, stored, and found by the text of its output —
 * and the secret it printed, which the recorder redacted, is found nowhere.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IngestResultSchema, verifyReceipt } from '../shared/api/ingest.ts';
import { CAST_ENTRY, readZip, verifyBundle, type TrustRoot } from '../shared/bundle/index.ts';
import { FAKE } from '../shared/redaction/rules/samples.test-support.ts';
import { archiveModule } from '../server/archive/routes.ts';
import { DirectoryBlobStore } from '../server/blobs/directory-store.ts';
import { ingestModule } from '../server/ingest/routes.ts';
import { trustRootOf } from '../server/keys/service-keys.ts';
import { TusClient } from '../server/ingest/tus.test-support.ts';
import { startHarness, type Harness } from '../server/service.test-support.ts';
import { PROMPT, RecorderFixture, type RecordedBundle } from './support/recording.ts';

let harness: Harness;
let recorder: RecorderFixture;
let blobDir: string;
let trustRoot: TrustRoot;
let recorded: RecordedBundle;
const secret = FAKE.githubPat;

before(async () => {
  blobDir = await mkdtemp(join(tmpdir(), 'custody-blobs-'));
  const blobs = new DirectoryBlobStore(blobDir);
  recorder = await RecorderFixture.start();
  harness = await startHarness({ extraModules: [ingestModule({ blobs, trustRoot: () => Promise.resolve(trustRoot) }), archiveModule({ blobs })], config: { archive: { sweepIntervalMinutes: 0 } } });
  // The recorder's device is enrolled: its key is in the trust root beside the service's own.
  trustRoot = { version: 1, keys: [...trustRootOf(harness.service.context.keys, 'test').keys, ...(await recorder.trustRoot()).keys] };
  await writeFile(join(recorder.dataDir, 'token.txt'), `GITHUB_TOKEN=${secret}\n`);
  recorded = await recorder.record({
    metadata: { target: 'db-prod-1', grant: 'grant-77' },
    steps: [
      { waitFor: PROMPT },
      { input: 'cat token.txt\r', waitFor: PROMPT, pauseMs: 300 },
      { input: 'echo zebra$((6*7))quux\r', waitFor: 'zebra42quux' },
      { waitFor: PROMPT, pauseMs: 300 },
      { input: 'exit\r' },
    ],
  });
});
after(async () => {
  await harness?.stop();
  await recorder?.close();
  await rm(blobDir, { recursive: true, force: true });
});

test('a recorded session is found by a word of its output, and the secret it printed is found nowhere', async () => {
  assert.ok(recorded.output.includes(secret), 'the admin saw the secret on screen');
  const cast = Buffer.from(readZip(recorded.bytes).get(CAST_ENTRY)!).toString('utf8');
  assert.ok(!cast.includes(secret), 'the recorder redacted it before anything was hashed');

  const alice = await harness.as('alice');
  const dave = await harness.as('dave');
  const response = await new TusClient(harness.service.url, alice.tokens.accessToken).upload(recorded.bytes, recorded.sessionId, 16 * 1024);
  assert.equal(response.status, 200, await response.clone().text());
  const receipt = verifyReceipt(IngestResultSchema.parse(await response.json()).envelope, trustRoot);
  const exported = new Uint8Array(await (await dave.get(`/v1/sessions/${recorded.sessionId}/bundle`)).arrayBuffer());
  const report = verifyBundle(exported, { trustRoot });
  assert.equal(report.status, 'intact');
  assert.equal(report.trusted, true);
  assert.equal(receipt.tree.size, report.tree?.lines);

  const search = async (caller: typeof alice, query: string): Promise<string[]> => {
    const res = await caller.get(`/v1/sessions?${query}`);
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { sessions: { sessionId: string }[] }).sessions.map((s) => s.sessionId);
  };
  assert.deepEqual(await search(dave, 'text=zebra42quux'), [recorded.sessionId], 'a word only the output held (the input was zebra$((6*7))quux)');
  assert.deepEqual(await search(alice, 'text=zebra42quux'), [recorded.sessionId], 'the owner finds it too');
  assert.deepEqual(await search(await harness.as('bob'), 'text=zebra42quux'), [], 'another admin does not');
  assert.deepEqual(await search(dave, `text=${encodeURIComponent(secret)}`), []);
  assert.deepEqual(await search(dave, `text=${encodeURIComponent(secret.slice(4))}`), []);
  assert.deepEqual(await search(dave, 'target=db-prod-1&grantId=grant-77'), [recorded.sessionId]);
  assert.deepEqual(await search(dave, 'owner=alice&text=token'), [recorded.sessionId]);
  assert.deepEqual(await search(dave, `from=${Date.now() + 60_000}`), []);
});
