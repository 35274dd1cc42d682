/**
 * Enrollment end to end: a real recorder's device key is enrolled with a real service (dev IdP
 * sign-in, challenge, proof of possession), the org root's certificate goes into the recorder's
 * open call, the recorder packs it into the bundle, and the bundle verifies as trusted against
 * the trust root the service publishes, and as untrusted against another organisation's.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { FileKeyStore } from '../recorder/keystore.ts';
import { EnrolledDeviceSchema, enrollmentMessage, DeviceChallengeSchema } from '../shared/api/enrollment.ts';
import { toBase64, utf8 } from '../shared/bundle/bytes.ts';
import type { Ed25519Signer } from '../shared/bundle/crypto.ts';
import { TrustRootSchema, type TrustRoot } from '../shared/bundle/manifest.ts';
import { verifyBundle } from '../shared/bundle/verifier.ts';
import { loadServiceKeys, trustRootOf } from '../server/keys/service-keys.ts';
import { startHarness, type Caller, type Harness } from '../server/service.test-support.ts';
import { killProcessGroup, openBash, pidFrom, RECOVERED_STATUSES, RecorderUnderTest, restartAndRecover, sessionIdFor, sh } from './support/recorder-harness.ts';
import { makeTempDir, PROMPT, RecorderFixture, removeDir, type SessionSpec } from './support/recording.ts';

/** Enrolls `deviceKey` for `caller` as the app does, and returns the certificate's DSSE bytes. */
async function enrollKey(caller: Caller, deviceKey: Ed25519Signer, name: string): Promise<Uint8Array> {
  const challenge = DeviceChallengeSchema.parse(await (await caller.post('/v1/devices/challenge', {})).json());
  const publicKey = toBase64(deviceKey.publicKey);
  const res = await caller.post('/v1/devices', { publicKey, name, nonce: challenge.nonce, signature: toBase64(deviceKey.sign(enrollmentMessage(challenge.nonce, challenge.subject, publicKey))) });
  assert.equal(res.status, 200, await res.clone().text());
  const { device } = EnrolledDeviceSchema.parse(await res.json());
  assert.equal(device.publicKey, publicKey);
  return utf8(device.certificate);
}

const SESSION: SessionSpec = {
  steps: [{ waitFor: PROMPT }, { input: 'echo enrolled-$((6*7))\r', waitFor: 'enrolled-42' }, { input: 'exit\r' }],
};

describe('a bundle from an enrolled device verifies as trusted', () => {
  let harness: Harness;
  let recorder: RecorderFixture;
  let otherOrgDir: string;
  let certificate: Uint8Array;
  let trustRoot: TrustRoot;
  let otherOrg: TrustRoot;

  before(async () => {
    harness = await startHarness();
    recorder = await RecorderFixture.start();
    otherOrgDir = await makeTempDir('other-org');
    // The key the recorder made and signs with, read from its key file as the app would.
    const deviceKey = await new FileKeyStore(recorder.keyFile).deviceKey();
    assert.equal(deviceKey.keyId, recorder.deviceKeyId);

    certificate = await enrollKey(await harness.as('bob'), deviceKey, 'recorder under test');

    trustRoot = TrustRootSchema.parse(await (await harness.anonymous().get('/v1/trust-root')).json());
    // Another organisation: its own service keys, made the same way, published the same way.
    otherOrg = trustRootOf(await loadServiceKeys(otherOrgDir), 'Other Org');
  });

  after(async () => {
    await recorder?.close();
    await harness?.stop();
    if (otherOrgDir !== undefined) await removeDir(otherOrgDir);
  });

  test('intact and trusted via the org root against the service\'s trust root; untrusted against another org\'s', async () => {
    const bundle = await recorder.record({ ...SESSION, deviceCert: certificate });
    assert.match(bundle.output, /enrolled-42/);

    const report = verifyBundle(bundle.bytes, { trustRoot });
    assert.equal(report.status, 'intact', report.summary);
    assert.equal(report.trusted, true);
    assert.equal(report.summary, 'intact and trusted');
    assert.equal(report.signer?.trustedVia, 'org-root');
    assert.equal(report.signer?.orgKeyId, harness.service.context.keys.orgRoot.keyId);
    assert.deepEqual(report.signer?.subject, { sub: 'bob', name: 'Bob Admin-Approver', email: 'bob@example.test' });

    const foreign = verifyBundle(bundle.bytes, { trustRoot: otherOrg });
    assert.equal(foreign.intact, true);
    assert.equal(foreign.trusted, false);
    assert.equal(foreign.status, 'untrusted-key');
    assert.match(foreign.summary, /issuer the trust root does not know/);
  });

  test('custody verify --trust with the file custody-server trust-root writes: exit 0 for this org, 1 for another', async () => {
    const bundle = await recorder.record({ ...SESSION, deviceCert: certificate });
    const dir = await makeTempDir('auditor');
    try {
      const bundleFile = join(dir, 'session.custody');
      await writeFile(bundleFile, bundle.bytes);
      const ours = join(dir, 'trust-root.json');
      const run = promisify(execFile);
      await run(process.execPath, [new URL('../server/main.ts', import.meta.url).pathname, 'trust-root', '--out', ours], { env: { ...process.env, CUSTODY_SERVER_DATA: harness.dir } });
      const custody = new URL('../bin/custody.js', import.meta.url).pathname;
      const trusted = await run(process.execPath, [custody, 'verify', bundleFile, '--trust', ours]);
      assert.match(trusted.stdout, /intact and trusted/);
      assert.match(trusted.stdout, /bob/);

      const theirs = join(dir, 'other-org.json');
      await writeFile(theirs, JSON.stringify(otherOrg));
      const refused = await run(process.execPath, [custody, 'verify', bundleFile, '--trust', theirs]).then(
        () => assert.fail('custody verify accepted a bundle the trust root does not vouch for'),
        (error: { code: number; stdout: string }) => error,
      );
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /untrusted/);
    } finally {
      await removeDir(dir);
    }
  });

  test('without the certificate, the same device\'s bundle is intact but not trusted', async () => {
    const bundle = await recorder.record(SESSION);
    const report = verifyBundle(bundle.bytes, { trustRoot });
    assert.equal(report.intact, true);
    assert.equal(report.trusted, false);
    assert.match(report.summary, /no device certificate/);
  });

  test('the recorder refuses a certificate for another device key before the program starts', async () => {
    const bob = await harness.as('bob');
    const other = await RecorderFixture.start();
    try {
      const othersCert = await enrollKey(bob, await new FileKeyStore(other.keyFile).deviceKey(), 'another');
      await assert.rejects(recorder.record({ ...SESSION, deviceCert: othersCert }), /open-failed: .*another device key/);
    } finally {
      await other.close();
    }
  });

  test('a session whose recorder was killed is recovered with its device certificate, and stays trusted', async () => {
    const base = await makeTempDir('enrolled-crash');
    const dataDir = join(base, 'data');
    const first = RecorderUnderTest.start({ dataDir });
    let second: RecorderUnderTest | undefined;
    try {
      await first.ready();
      const deviceCert = await enrollKey(await harness.as('carol'), await new FileKeyStore(join(dataDir, 'device-key.json')).deviceKey(), 'crashing laptop');
      const sessionId = sessionIdFor('enrolled');
      const pidFile = join(base, `${sessionId}.pid`);
      first.client.send({ ...openBash({ sessionId, cwd: dataDir, script: `echo $$ > ${sh(pidFile)}; echo 'before the crash'; exec sleep 60` }), deviceCert });
      const pid = await pidFrom(pidFile);
      // Killed once a checkpoint covers the output: the recovered bundle then has a signed prefix to trust.
      await first.next('a checkpoint covering the output', (e) => e.type === 'checkpoint' && e.sessionId === sessionId && e.size >= 2);
      await first.crash();
      killProcessGroup(pid);
      const recovery = await restartAndRecover({ dataDir }, sessionId);
      second = recovery.recorder;
      const report = verifyBundle(recovery.bundle.bytes, { trustRoot });
      assert.ok(RECOVERED_STATUSES.has(report.status), report.summary);
      assert.equal(report.trusted, true, report.summary);
      assert.equal(report.signer?.trustedVia, 'org-root');
      assert.equal(report.signer?.subject?.sub, 'carol');
    } finally {
      await first.crash().catch(() => undefined);
      await second?.stop();
      await removeDir(base);
    }
  });
});
