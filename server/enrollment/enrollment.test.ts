import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { DeviceChallengeSchema, DeviceListSchema, DeviceSchema, EnrolledDeviceSchema, enrollmentMessage, type Device } from '../../shared/api/enrollment.ts';
import { fromBase64, toBase64 } from '../../shared/bundle/bytes.ts';
import { keyIdOf, nobleSigner, nobleSuite, type Ed25519Signer } from '../../shared/bundle/crypto.ts';
import { openEnvelope, verifyEnvelope } from '../../shared/bundle/dsse.ts';
import { DEVICE_CERT_ENTRY, DEVICE_CERT_PAYLOAD_TYPE, DeviceCertSchema, TrustRootSchema } from '../../shared/bundle/manifest.ts';
import { postgresUnavailable, startPostgres, type RunningPostgres } from '../../test/support/postgres.ts';
import { startHarness, type Caller, type Harness } from '../service.test-support.ts';
import { deviceStanding } from './devices.ts';

const DAY_MS = 86_400_000;

const newDeviceKey = (): Ed25519Signer => nobleSigner(randomBytes(32));

async function challenge(caller: Caller): Promise<{ nonce: string; subject: string; expiresAt: number }> {
  const res = await caller.post('/v1/devices/challenge', {});
  assert.equal(res.status, 200, await res.clone().text());
  return DeviceChallengeSchema.parse(await res.json());
}

/** Signs the enrollment message as a well-behaved app does; `tweak` lets a test sign something else. */
async function enroll(caller: Caller, key: Ed25519Signer, name = 'work laptop', tweak: { nonce?: string; subject?: string; signer?: Ed25519Signer } = {}): Promise<Response> {
  const c = await challenge(caller);
  const nonce = tweak.nonce ?? c.nonce;
  const publicKey = toBase64(key.publicKey);
  const signature = toBase64((tweak.signer ?? key).sign(enrollmentMessage(nonce, tweak.subject ?? c.subject, publicKey)));
  return caller.post('/v1/devices', { publicKey, name, nonce, signature });
}

async function enrolled(caller: Caller, key: Ed25519Signer, name?: string): Promise<Device> {
  const res = await enroll(caller, key, name);
  assert.equal(res.status, 200, await res.clone().text());
  return EnrolledDeviceSchema.parse(await res.json()).device;
}

async function problem(res: Response, status: number, pattern: RegExp): Promise<void> {
  const body = (await res.json()) as { message: string };
  assert.equal(res.status, status, body.message);
  assert.match(body.message, pattern);
}

for (const database of ['sqlite', 'postgres'] as const) {
  describe(`device enrollment (${database === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`, { skip: database === 'postgres' ? postgresUnavailable() : false }, () => {
    let harness: Harness;
    let postgres: RunningPostgres | undefined;
    let clock = Date.now();
    before(async () => {
      if (database === 'postgres') postgres = await startPostgres();
      harness = await startHarness({ now: () => clock, ...(postgres === undefined ? {} : { database: { kind: 'postgres', url: await postgres.freshDatabase(), maxConnections: 4 } }) });
    });
    after(async () => {
      await harness?.stop();
      await postgres?.stop();
    });

    test('the trust root is public and holds the org root and the service key', async () => {
      const res = await harness.anonymous().get('/v1/trust-root');
      assert.equal(res.status, 200);
      const root = TrustRootSchema.parse(await res.json());
      const { orgRoot, service } = harness.service.context.keys;
      assert.deepEqual(
        root.keys.map((k) => [k.role, k.keyId, k.publicKey]),
        [
          ['org-root', orgRoot.keyId, toBase64(orgRoot.publicKey)],
          ['service', service.keyId, toBase64(service.publicKey)],
        ],
      );
      assert.equal(root.name, 'Custody');
    });

    test('custody-server trust-root --out FILE writes the same trust root the service serves', async () => {
      const out = join(harness.dir, 'trust-root.json');
      const main = new URL('../main.ts', import.meta.url).pathname;
      // No --config: the embedded defaults read the keys from $CUSTODY_SERVER_DATA, here the harness's data dir.
      const { stdout } = await promisify(execFile)(process.execPath, [main, 'trust-root', '--out', out], { env: { ...process.env, CUSTODY_SERVER_DATA: harness.dir } });
      assert.match(stdout, /wrote the trust root "Custody"/);
      const written = TrustRootSchema.parse(JSON.parse(await readFile(out, 'utf8')));
      assert.deepEqual(written, await (await harness.anonymous().get('/v1/trust-root')).json());
    });

    test('an enrolled device gets a DeviceCert signed by the org root, with the user and 90 days of validity', async () => {
      const bob = await harness.as('bob');
      const key = newDeviceKey();
      const device = await enrolled(bob, key, 'bob laptop');
      const keyId = keyIdOf(nobleSuite, key.publicKey);
      assert.equal(device.id, keyId);
      assert.equal(device.owner, 'bob');
      assert.equal(device.name, 'bob laptop');
      assert.equal(device.revokedAt, null);
      const opened = openEnvelope(new TextEncoder().encode(device.certificate), DEVICE_CERT_ENTRY, DEVICE_CERT_PAYLOAD_TYPE);
      assert.ok(verifyEnvelope(nobleSuite, opened, harness.service.context.keys.orgRoot.publicKey), 'signed by the org root');
      const cert = DeviceCertSchema.parse(opened.body);
      assert.deepEqual(cert.subject, { sub: 'bob', name: 'Bob Admin-Approver', email: 'bob@example.test' });
      assert.equal(cert.deviceKeyId, keyId);
      assert.deepEqual(fromBase64(cert.devicePublicKey), key.publicKey);
      assert.equal(cert.issuerKeyId, harness.service.context.keys.orgRoot.keyId);
      assert.equal(cert.notBefore, clock);
      assert.equal(cert.notAfter - cert.notBefore, 90 * DAY_MS);

      const list = DeviceListSchema.parse(await (await bob.get('/v1/devices')).json());
      assert.deepEqual(list.devices.map((d) => d.id), [keyId]);
      assert.equal(await deviceStanding(harness.service.db, keyId), 'enrolled');
      const audit = await harness.service.db.all<{ action: string; actor: string; target: string }>("SELECT action, actor, target FROM audit_log WHERE action LIKE 'device.%' AND target = ?", [keyId]);
      assert.deepEqual(audit.map((a) => [a.action, a.actor]), [['device.enroll', 'bob']]);
    });

    test('a challenge is single-use: the same signed enrollment again is refused', async () => {
      const bob = await harness.as('bob');
      const key = newDeviceKey();
      const c = await challenge(bob);
      const publicKey = toBase64(key.publicKey);
      const body = { publicKey, name: 'replayed', nonce: c.nonce, signature: toBase64(key.sign(enrollmentMessage(c.nonce, c.subject, publicKey))) };
      assert.equal((await bob.post('/v1/devices', body)).status, 200);
      await problem(await bob.post('/v1/devices', body), 403, /already used/);
    });

    test('a challenge expires after two minutes on the server clock', async () => {
      const bob = await harness.as('bob');
      const key = newDeviceKey();
      const c = await challenge(bob);
      assert.equal(c.expiresAt, clock + 120_000);
      const publicKey = toBase64(key.publicKey);
      const body = { publicKey, name: 'late', nonce: c.nonce, signature: toBase64(key.sign(enrollmentMessage(c.nonce, c.subject, publicKey))) };
      clock += 120_001;
      await problem(await bob.post('/v1/devices', body), 403, /expired/);
    });

    test('no proof of possession, no enrollment: another key\'s signature, another subject, another user\'s nonce', async () => {
      const bob = await harness.as('bob');
      const alice = await harness.as('alice');
      const key = newDeviceKey();
      await problem(await enroll(bob, key, 'x', { signer: newDeviceKey() }), 403, /possession/);
      await problem(await enroll(bob, key, 'x', { subject: 'alice' }), 403, /possession/);
      const alices = await challenge(alice);
      await problem(await enroll(bob, key, 'x', { nonce: alices.nonce }), 403, /unknown/);
      // Nothing of that enrolled the key.
      assert.equal(await deviceStanding(harness.service.db, keyIdOf(nobleSuite, key.publicKey)), 'unknown');
    });

    test('malformed keys and signatures are refused with what is wrong', async () => {
      const bob = await harness.as('bob');
      const c = await challenge(bob);
      await problem(await bob.post('/v1/devices', { publicKey: toBase64(randomBytes(31)), name: 'short', nonce: c.nonce, signature: toBase64(randomBytes(64)) }), 400, /32-byte Ed25519 public key/);
      await problem(await bob.post('/v1/devices', { publicKey: toBase64(randomBytes(32)), name: 'sig', nonce: c.nonce, signature: toBase64(randomBytes(10)) }), 400, /64-byte Ed25519 signature/);
      await problem(await bob.post('/v1/devices', { publicKey: 'not base64!', name: 'x', nonce: c.nonce, signature: 'AA==' }), 400, /publicKey/);
      await problem(await bob.post('/v1/devices', { publicKey: toBase64(randomBytes(32)), name: '', nonce: c.nonce, signature: toBase64(randomBytes(64)) }), 400, /name/);
    });

    test('enrolling the same key again renews its certificate; another user cannot take it', async () => {
      const bob = await harness.as('bob');
      const alice = await harness.as('alice');
      const key = newDeviceKey();
      const first = await enrolled(bob, key);
      clock += 60_000; // well inside the access token's life, which the same clock judges
      const res = await enroll(bob, key, 'renamed');
      const renewed = EnrolledDeviceSchema.parse(await res.json());
      assert.equal(renewed.renewed, true);
      assert.equal(renewed.device.enrolledAt, first.enrolledAt);
      assert.equal(renewed.device.notBefore, clock);
      assert.equal(renewed.device.name, 'renamed');
      await problem(await enroll(alice, key), 409, /another user/);
    });

    test('revocation: an admin revokes their own device only, a service admin any, others not at all; each is audited', async () => {
      const bob = await harness.as('bob');
      const alice = await harness.as('alice');
      const erin = await harness.as('erin');
      const dave = await harness.as('dave');
      const frank = await harness.as('frank');
      const bobs = await enrolled(bob, newDeviceKey(), 'bob desktop');
      const alices = await enrolled(alice, newDeviceKey(), 'alice laptop');

      await problem(await alice.post(`/v1/devices/${bobs.id}/revoke`, {}), 404, /does not exist/);
      await problem(await dave.post(`/v1/devices/${bobs.id}/revoke`, {}), 403, /role/);
      await problem(await frank.post(`/v1/devices/${bobs.id}/revoke`, {}), 403, /role/);
      assert.equal((await alice.get(`/v1/devices/${bobs.id}`)).status, 404);
      assert.equal((await dave.get(`/v1/devices/${bobs.id}`)).status, 200);

      const revoked = DeviceSchema.parse(await (await bob.post(`/v1/devices/${bobs.id}/revoke`, { reason: 'lost' })).json());
      assert.equal(revoked.revokedAt, clock);
      assert.equal(revoked.revokedBy, 'bob');
      await problem(await bob.post(`/v1/devices/${bobs.id}/revoke`, {}), 409, /already revoked/);
      assert.equal(await deviceStanding(harness.service.db, bobs.id), 'revoked');

      const byErin = DeviceSchema.parse(await (await erin.post(`/v1/devices/${alices.id}/revoke`, {})).json());
      assert.equal(byErin.revokedBy, 'erin');

      const audit = await harness.service.db.all<{ action: string; actor: string; target: string; details: string }>(
        "SELECT action, actor, target, details FROM audit_log WHERE action = 'device.revoke' ORDER BY seq",
      );
      assert.deepEqual(audit.map((a) => [a.actor, a.target]), [['bob', bobs.id], ['erin', alices.id]]);
      assert.deepEqual(JSON.parse(audit[0]!.details), { owner: 'bob', reason: 'lost' });
    });

    test('a revoked key is never enrolled again', async () => {
      const bob = await harness.as('bob');
      const key = newDeviceKey();
      const device = await enrolled(bob, key);
      assert.equal((await bob.post(`/v1/devices/${device.id}/revoke`, {})).status, 200);
      await problem(await enroll(bob, key), 409, /revoked/);
    });

    test('path tricks in device ids are refused before any lookup', async () => {
      const erin = await harness.as('erin');
      for (const id of ['..%2F..%2Fetc%2Fpasswd', '..%5C..%5Cetc', 'ABCDEF', `${'a'.repeat(64)}%00`, 'a'.repeat(65), `${'a'.repeat(63)}%2F`]) {
        await problem(await erin.get(`/v1/devices/${id}`), 400, /device key id/);
        await problem(await erin.post(`/v1/devices/${id}/revoke`, {}), 400, /device key id/);
      }
      // A dot segment never reaches the service as one: the client resolves it (RFC 3986 §5.2.4), and what is left has no route.
      assert.equal((await erin.get('/v1/devices/%2E%2E/challenge')).status, 404);
    });

    test('listing: your own devices; everyone\'s only for auditors and service admins; sign-in required', async () => {
      const carol = await harness.as('carol');
      const dave = await harness.as('dave');
      const mine = await enrolled(carol, newDeviceKey(), 'carol phone');
      const own = DeviceListSchema.parse(await (await carol.get('/v1/devices')).json());
      assert.deepEqual(own.devices.map((d) => d.id), [mine.id]);
      await problem(await carol.get('/v1/devices?all=true'), 403, /auditors and service admins/);
      const all = DeviceListSchema.parse(await (await dave.get('/v1/devices?all=true')).json());
      assert.ok(all.devices.some((d) => d.id === mine.id) && all.devices.some((d) => d.owner === 'bob'));
      assert.equal((await harness.anonymous().get('/v1/devices')).status, 401);
      assert.equal((await harness.anonymous().post('/v1/devices/challenge', {})).status, 401);
    });
  });
}
