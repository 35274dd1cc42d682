/**
 * Ingest with enrollment, the service as deployed (every built-in module, nothing replaced): a
 * device enrolled over HTTP gets its certificate from the org root; its bundles are archived as
 * trusted and verify against the public trust root; only its user may upload them; once the
 * device is revoked, its bundles are quarantined and it can start no live session.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { enrollmentMessage, EnrolledDeviceSchema } from '../shared/api/enrollment.ts';
import { IngestRefusalSchema, IngestResultSchema, verifyReceipt } from '../shared/api/ingest.ts';
import { nobleSigner, toBase64, TrustRootSchema, utf8, verifyBundle, type TrustRoot } from '../shared/bundle/index.ts';
import { buildBundle, repack } from '../shared/bundle/test-support.ts';
import { TusClient } from '../server/ingest/tus.test-support.ts';
import { startHarness, type Caller, type Harness } from '../server/service.test-support.ts';

let harness: Harness;
let alice: Caller;
let trustRoot: TrustRoot;
const deviceKey = nobleSigner(new Uint8Array(32).fill(0x66));
let certificate: string;
let deviceId: string;

/** A sealed bundle from the enrolled device, carrying the certificate the service issued. */
function deviceBundle(sessionId: string): Uint8Array {
  const built = buildBundle({ sessionId, startedAt: Date.now(), deviceKey });
  return repack({ ...built.contents, deviceCert: utf8(certificate) }, deviceKey);
}

before(async () => {
  harness = await startHarness();
  alice = await harness.as('alice');
  trustRoot = TrustRootSchema.parse(await (await harness.anonymous().get('/v1/trust-root')).json());
  const challenge = (await (await alice.post('/v1/devices/challenge', {})).json()) as { nonce: string; subject: string };
  const publicKey = toBase64(deviceKey.publicKey);
  const signature = toBase64(deviceKey.sign(enrollmentMessage(challenge.nonce, challenge.subject, publicKey)));
  const enrolled = await alice.post('/v1/devices', { publicKey, name: 'test laptop', nonce: challenge.nonce, signature });
  assert.ok(enrolled.ok, await enrolled.clone().text());
  const { device } = EnrolledDeviceSchema.parse(await enrolled.json());
  certificate = device.certificate;
  deviceId = device.id;
});
after(() => harness?.stop());

test('an enrolled device\'s bundle is archived as trusted; another user may not upload it; after revocation its bundles are quarantined', async () => {
  const bytes = deviceBundle('enrolled-1');
  const bob = await harness.as('bob');
  const claimed = await new TusClient(harness.service.url, bob.tokens.accessToken).upload(bytes, 'enrolled-1');
  assert.equal(claimed.status, 403, await claimed.clone().text());
  assert.match(IngestRefusalSchema.parse(await claimed.json()).message, /enrolled to alice/);

  const stored = await new TusClient(harness.service.url, alice.tokens.accessToken).upload(bytes, 'enrolled-1');
  assert.equal(stored.status, 200, await stored.clone().text());
  const receipt = verifyReceipt(IngestResultSchema.parse(await stored.json()).envelope, trustRoot);
  const exported = new Uint8Array(await (await (await harness.as('dave')).get('/v1/sessions/enrolled-1/bundle')).arrayBuffer());
  const report = verifyBundle(exported, { trustRoot });
  assert.equal(report.status, 'intact');
  assert.equal(report.signer?.trustedVia, 'org-root');
  assert.equal(report.signer?.subject?.sub, 'alice');
  // The stored bundle carries the service's countersignature, checked against the public trust root.
  assert.equal(report.countersignedBy?.keyId, trustRoot.keys.find((k) => k.role === 'service')?.keyId);
  // And an auditor sees it offline: custody verify with the org's trust root file.
  const dir = await mkdtemp(join(tmpdir(), 'custody-archived-'));
  try {
    await writeFile(join(dir, 'archived.custody'), exported);
    await writeFile(join(dir, 'org.json'), JSON.stringify(trustRoot));
    const custody = fileURLToPath(new URL('../bin/custody.js', import.meta.url));
    const printed = execFileSync(process.execPath, [custody, 'verify', join(dir, 'archived.custody'), '--trust', join(dir, 'org.json')], { encoding: 'utf8' });
    assert.match(printed, /archived +countersigned by the service key [0-9a-f]{16}…/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.equal(receipt.verdict, 'intact');

  assert.equal((await alice.post(`/v1/devices/${deviceId}/revoke`, { reason: 'laptop stolen' })).status, 200);
  const after = deviceBundle('enrolled-2');
  const refused = await new TusClient(harness.service.url, alice.tokens.accessToken).upload(after, 'enrolled-2');
  assert.equal(refused.status, 403);
  assert.match(IngestRefusalSchema.parse(await refused.json()).message, /was revoked/);
  const built = buildBundle({ sessionId: 'enrolled-3', startedAt: Date.now(), deviceKey });
  const live = await alice.post('/v1/sessions/enrolled-3', { sessionKeyCert: Buffer.from(built.contents.sessionKeyCert).toString('base64'), deviceCert: Buffer.from(certificate).toString('base64') });
  assert.equal(live.status, 403);
});
