import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IssuedCertificateSchema } from '../../shared/api/ca.ts';
import { ProblemSchema } from '../../shared/api/problem.ts';
import { startHarness, type Caller, type Harness } from '../service.test-support.ts';
import { grantThroughJit, inspectCertificate, makeUserKey, revokedBy } from './ca.test-support.ts';

const HOUR = 3600_000;

describe('the SSH CA over HTTP, on grants of the JIT module', () => {
  let harness: Harness;
  let alice: Caller, bob: Caller, carol: Caller, erin: Caller;
  let publicKey: string;
  let clock = Date.now();
  /** An ACTIVE grant of bob's for `principal`, approved by carol. */
  const bobsGrant = (principal = 'deploy', options: { durationMinutes?: number; start?: boolean } = {}): Promise<string> =>
    grantThroughJit({ serviceAdmin: erin, requester: bob, approver: carol }, { principal, ...options });

  before(async () => {
    harness = await startHarness({ now: () => clock, accessTokenTtlSeconds: 24 * 3600 });
    [alice, bob, carol, erin] = await Promise.all([harness.as('alice'), harness.as('bob'), harness.as('carol'), harness.as('erin')]);
    publicKey = (await makeUserKey(harness.dir)).publicLine;
  });
  after(() => harness.stop());

  async function problem(response: Response, status: number): Promise<string> {
    const text = await response.text();
    assert.equal(response.status, status, text);
    return ProblemSchema.parse(JSON.parse(text)).message;
  }

  async function auditActions(action: string): Promise<{ actor: string; target: string; details: string }[]> {
    return harness.service.db.all('SELECT actor, target, details FROM audit_log WHERE action = ? ORDER BY seq', [action]);
  }

  test('the CA public key is public, one line, the key file sshd is given', async () => {
    const response = await harness.anonymous().get('/v1/ca/public-key');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    assert.equal(text, await readFile(join(harness.dir, 'keys', 'ssh-ca.pub'), 'utf8'));
    assert.match(text, /^ssh-ed25519 AAAA\S+ custody-ssh-ca\n$/);
  });

  test('the owner of an active grant gets a certificate for its principals until its end, and it is audited', async () => {
    const grantId = await bobsGrant('deploy', { durationMinutes: 60 });
    const endsAt = clock + HOUR;
    const response = await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey });
    assert.equal(response.status, 200, await response.clone().text());
    const issued = IssuedCertificateSchema.parse(await response.json());
    assert.equal(issued.grantId, grantId);
    assert.equal(issued.keyId, `custody grant=${grantId} sub=bob`);
    assert.deepEqual(issued.principals, ['deploy']);
    assert.equal(issued.validBefore, Math.floor(endsAt / 1000) * 1000);
    const facts = await inspectCertificate(harness.dir, issued.certificate);
    assert.deepEqual([facts.serial, facts.keyId, facts.principals, facts.extensions], [issued.serial, issued.keyId, ['deploy'], ['permit-pty']]);
    const [entry] = (await auditActions('ssh-ca.certificate.issue')).filter((e) => e.target === grantId);
    assert.equal(entry?.actor, 'bob');
    assert.equal((JSON.parse(entry.details) as { serial: number }).serial, issued.serial);
  });

  test('a grant that is not started, not yours, unknown, ended or past its end gets no certificate, with the reason', async () => {
    const approved = await bobsGrant('deploy', { start: false });
    assert.match(await problem(await bob.post(`/v1/grants/${approved}/certificate`, { publicKey }), 409), /APPROVED, not ACTIVE/);
    const active = await bobsGrant();
    assert.match(await problem(await alice.post(`/v1/grants/${active}/certificate`, { publicKey }), 403), /not yours/);
    assert.match(await problem(await bob.post('/v1/grants/jr_00000000000000000000/certificate', { publicKey }), 404), /does not exist/);
    const ended = await bobsGrant();
    assert.equal((await bob.post(`/v1/jit/requests/${ended}/end`, {})).status, 200);
    assert.match(await problem(await bob.post(`/v1/grants/${ended}/certificate`, { publicKey }), 409), /has ended/);
    const short = await bobsGrant('deploy', { durationMinutes: 1 });
    clock += 2 * 60_000;
    assert.match(await problem(await bob.post(`/v1/grants/${short}/certificate`, { publicKey }), 409), /ended at/);
    const issuedFor = await harness.service.db.all<{ grant_id: string }>('SELECT grant_id FROM ssh_certificates');
    assert.deepEqual(issuedFor.filter((r) => [approved, active, ended, short].includes(r.grant_id)), []);
  });

  test('only a signed-in admin may ask', async () => {
    const grantId = await bobsGrant();
    assert.match(await problem(await harness.anonymous().post(`/v1/grants/${grantId}/certificate`, { publicKey }), 401), /no access token/);
    assert.match(await problem(await (await harness.as('dave')).post(`/v1/grants/${grantId}/certificate`, { publicKey }), 403), /needs the role admin/);
  });

  test('private keys, certificates, short RSA keys and several lines are refused, and a private key never reaches the log', async () => {
    const grantId = await bobsGrant();
    const key = await makeUserKey(harness.dir);
    const privateText = await readFile(key.file, 'utf8');
    assert.match(await problem(await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey: privateText }), 400), /^body\.publicKey: this is a private key/);
    const rsa = join(harness.dir, 'rsa2048');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa]);
    assert.match(await problem(await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey: await readFile(`${rsa}.pub`, 'utf8') }), 400), /2048 bits is too short/);
    const cert = (await (await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey })).json()) as { certificate: string };
    assert.match(await problem(await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey: cert.certificate }), 400), /this is a certificate/);
    assert.match(await problem(await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey: `${publicKey}${publicKey}` }), 400), /must be one line/);
    assert.match(await problem(await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey: 'A'.repeat(9000) }), 400), /at most 8192 characters/);
    assert.match(await problem(await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey, extra: true }), 400), /not valid/);
    const secretLine = privateText.split('\n')[2]!;
    assert.ok(!harness.logs.join('').includes(secretLine), 'the private key is not logged');
  });

  test('path tricks in the grant id, malformed JSON and an oversized body are refused', async () => {
    const grantId = await bobsGrant();
    for (const path of ['/v1/grants/..%2F..%2Fetc%2Fpasswd/certificate', '/v1/grants/..%2f/certificate', '/v1/grants/.hidden/certificate', '/v1/grants/jr_x%00/certificate', '/v1/grants/jr%20x/certificate', `/v1/grants/${'a'.repeat(129)}/certificate`]) {
      assert.match(await problem(await bob.post(path, { publicKey }), 400), /params\.grantId: must be 1-128 of A-Z a-z 0-9 _ -/, path);
    }
    // `..` and `%2E%2E` are resolved by the URL itself: they name another route, which does not exist.
    for (const path of ['/v1/grants/../certificate', '/v1/grants/%2E%2E/certificate']) assert.match(await problem(await bob.post(path, { publicKey }), 404), /no route POST \/v1\/certificate/);
    const malformed = await bob.request('POST', `/v1/grants/${grantId}/certificate`, { body: '{"publicKey":', headers: { 'content-type': 'application/json' } });
    assert.match(await problem(malformed, 400), /not valid JSON/);
    assert.match(await problem(await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey: 'x'.repeat(300 * 1024) }), 413), /larger than this route accepts/);
  });

  test('the KRL is public, and lists the certificates of a grant revoked since the last fetch', async () => {
    const grantId = await bobsGrant();
    const issued = IssuedCertificateSchema.parse(await (await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey })).json());
    const first = await harness.anonymous().get('/v1/ca/krl');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'application/octet-stream');
    assert.equal(await revokedBy(harness.dir, new Uint8Array(await first.arrayBuffer()), issued.certificate), false);

    assert.equal((await carol.post(`/v1/jit/requests/${grantId}/revoke`, { reason: 'incident 42' })).status, 200);
    const second = await harness.anonymous().get('/v1/ca/krl');
    const krl = new Uint8Array(await second.arrayBuffer());
    assert.equal(await revokedBy(harness.dir, krl, issued.certificate), true);
    assert.ok(Number(second.headers.get('x-custody-krl-version')) > Number(first.headers.get('x-custody-krl-version')));
    await writeFile(join(harness.dir, 'served.krl'), krl);
    assert.match(execFileSync('ssh-keygen', ['-Q', '-l', '-f', join(harness.dir, 'served.krl')], { encoding: 'utf8' }), new RegExp(`serial: ${issued.serial}\\n`));
    const [entry] = (await auditActions('ssh-ca.certificate.revoke')).filter((e) => e.target === grantId);
    assert.equal(entry?.actor, 'system');
    assert.deepEqual((JSON.parse(entry.details) as { serials: number[] }).serials, [issued.serial]);
    assert.match((JSON.parse(entry.details) as { reason: string }).reason, /was revoked/);
    assert.match(await problem(await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey }), 409), /revoked/);
  });

  test('hosts fetching the KRL at once after a revocation all get it listed, and it is revoked once', async () => {
    const grantId = await bobsGrant();
    const issued = IssuedCertificateSchema.parse(await (await bob.post(`/v1/grants/${grantId}/certificate`, { publicKey })).json());
    await (await harness.anonymous().get('/v1/ca/krl')).arrayBuffer();
    assert.equal((await carol.post(`/v1/jit/requests/${grantId}/revoke`, { reason: 'incident 43' })).status, 200);
    const krls = await Promise.all(Array.from({ length: 20 }, async () => new Uint8Array(await (await harness.anonymous().get('/v1/ca/krl')).arrayBuffer())));
    for (const krl of krls) assert.equal(await revokedBy(harness.dir, krl, issued.certificate), true);
    assert.equal((await auditActions('ssh-ca.certificate.revoke')).filter((e) => e.target === grantId).length, 1);
  });

  test('the routes are in the OpenAPI document', async () => {
    const doc = (await (await harness.anonymous().get('/openapi.json')).json()) as { paths: Record<string, unknown> };
    for (const path of ['/v1/ca/public-key', '/v1/ca/krl', '/v1/grants/{grantId}/certificate']) assert.ok(path in doc.paths, path);
  });
});
