import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { ProblemSchema } from '../../shared/api/problem.ts';
import { AccessTokenVerifier } from '../auth/access-token.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { signInAs } from '../../test/support/idp.ts';
import { DEV_ROLE_GROUPS, startDevIdp } from '../dev-idp/dev-idp.ts';
import { enrollTestDevice, startHarness, TEST_AUDIENCE, type Harness } from '../service.test-support.ts';
import type { ServiceModule } from './context.ts';

/** A route of the test's own, to drive the JSON body handling every module relies on. */
const echoModule: ServiceModule = {
  name: 'echo',
  register(app, { db, audit }) {
    app.post(
      '/test/echo',
      { config: { access: ['admin'] }, schema: { body: z.strictObject({ reason: z.string().min(1).max(200) }), response: { 200: z.object({ seq: z.number() }) } } },
      async (request) => db.transaction(async (tx) => ({ seq: (await audit(tx, request, 'test.echo', 'echo-1', { reason: request.body.reason })).seq })),
    );
  },
};

async function problem(response: Response): Promise<z.infer<typeof ProblemSchema>> {
  return ProblemSchema.parse(await response.json());
}

test('over HTTP, a token that has expired on the server clock is refused with 401 and says so', async () => {
  let skew = 0;
  const harness = await startHarness({ now: () => Date.now() + skew });
  try {
    const bob = await harness.as('bob');
    assert.equal((await bob.get('/v1/me')).status, 200);
    skew = (bob.tokens.expiresIn + 120) * 1000; // past expiry and the 30 s tolerance
    const response = await bob.get('/v1/me');
    assert.equal(response.status, 401);
    assert.match((await problem(response)).message, /has expired: refresh it or sign in again/);
  } finally {
    await harness.stop();
  }
});

test("the IdP's signing keys rotate: a token under the new key is accepted; one under a key nobody publishes is refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'custody-rotation-'));
  let idp = await startDevIdp({ port: 0, audience: TEST_AUDIENCE, keysFile: join(dir, 'old-keys.json') });
  const port = Number(new URL(idp.issuer).port);
  try {
    const verifier = new AccessTokenVerifier({ issuer: idp.issuer, audience: TEST_AUDIENCE, groupsClaim: 'groups', roleGroups: DEV_ROLE_GROUPS, clockToleranceSeconds: 30, jwksCooldownMs: 0 });
    const before = await signInAs(idp.issuer, 'bob', TEST_AUDIENCE);
    assert.equal((await verifier.verify(before.accessToken)).subject, 'bob');
    // The IdP restarts on the same address with new keys (and publishes only those).
    await idp.stop();
    idp = await startDevIdp({ port, audience: TEST_AUDIENCE, keysFile: join(dir, 'new-keys.json') });
    const after = await signInAs(idp.issuer, 'bob', TEST_AUDIENCE);
    assert.notEqual(decodeProtectedHeader(after.accessToken).kid, decodeProtectedHeader(before.accessToken).kid);
    assert.equal((await verifier.verify(after.accessToken)).subject, 'bob', 'the new key is fetched on its first token');
    await assert.rejects(verifier.verify(before.accessToken), /signed with a key the identity provider does not publish/);
  } finally {
    await idp.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

describe('the service over HTTP, with the dev IdP', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness({ extraModules: [echoModule] });
  });
  after(() => harness.stop());

  test('health is public and reports the server clock', async () => {
    const response = await harness.anonymous().get('/health');
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string; now: number; database: string };
    assert.equal(body.status, 'ok');
    assert.equal(body.database, 'sqlite');
    assert.ok(Math.abs(body.now - Date.now()) < 60_000);
  });

  test('a signed-in user sees who they are, their groups mapped to roles, and their enrolled device', async () => {
    const bob = await harness.as('bob');
    const laptop = await enrollTestDevice(bob, 0x31);
    const response = await bob.get('/v1/me', { 'x-custody-device': laptop.id });
    assert.equal(response.status, 200);
    const me = (await response.json()) as { subject: string; roles: string[]; groups: string[]; device?: string };
    assert.equal(me.subject, 'bob');
    assert.deepEqual(me.roles.sort(), ['admin', 'approver']);
    assert.equal(me.device, laptop.id);
    const unknown = (await (await bob.get('/v1/me', { 'x-custody-device': 'dev-key-1' })).json()) as { device?: string };
    assert.equal(unknown.device, undefined, 'a device nobody enrolled is not taken on the header\'s word');
    const frank = await harness.as('frank');
    assert.deepEqual(((await (await frank.get('/v1/me')).json()) as { roles: string[] }).roles, []);
  });

  test('no token, a malformed header, a garbage token and a forged one are refused with 401 and the reason', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /no access token/],
      [{ authorization: 'Basic abc' }, /not "Bearer <token>"/],
      [{ authorization: 'Bearer not-a-jwt' }, /not a well-formed JWT/],
    ];
    const bob = await harness.as('bob');
    const [h, p, s] = bob.tokens.accessToken.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), groups: ['custody-auditors'] })).toString('base64url');
    cases.push([{ authorization: `Bearer ${h}.${forgedPayload}.${s}` }, /signature does not verify/]);
    for (const [headers, reason] of cases) {
      const response = await harness.anonymous().get('/v1/me', headers);
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
      assert.match((await problem(response)).message, reason);
    }
  });

  test('an expired token, a token for another audience and one from another issuer are refused, naming why', async () => {
    const bob = await harness.as('bob');
    const base = { issuer: harness.idp.issuer, audience: TEST_AUDIENCE, groupsClaim: 'groups', roleGroups: DEV_ROLE_GROUPS, clockToleranceSeconds: 30 };
    const later = new AccessTokenVerifier({ ...base, now: () => Date.now() + 2 * 3600_000 });
    await assert.rejects(later.verify(bob.tokens.accessToken), /has expired/);
    const skewed = new AccessTokenVerifier({ ...base, now: () => Date.now() + (bob.tokens.expiresIn + 10) * 1000 });
    assert.equal((await skewed.verify(bob.tokens.accessToken)).subject, 'bob', 'within the clock tolerance');
    await assert.rejects(new AccessTokenVerifier({ ...base, audience: 'https://other.test/api' }).verify(bob.tokens.accessToken), /wrong audience/);
    await assert.rejects(new AccessTokenVerifier({ ...base, issuer: `${harness.idp.issuer}/other`, jwksUri: `${harness.idp.issuer}/jwks` }).verify(bob.tokens.accessToken), /wrong issuer/);
  });

  test('a role the caller lacks is 403, naming the roles needed and held', async () => {
    const alice = await harness.as('alice');
    const response = await alice.get('/v1/audit');
    assert.equal(response.status, 403);
    assert.match((await problem(response)).message, /needs the role auditor or service-admin; you have admin/);
  });

  test('JSON bodies: malformed, empty, wrong type, wrong fields, oversized, each a 4xx that says what was wrong', async () => {
    const alice = await harness.as('alice');
    const send = (body: string, contentType = 'application/json'): Promise<Response> => alice.request('POST', '/test/echo', { body, headers: { 'content-type': contentType } });
    let response = await send('{"reason": ');
    assert.equal(response.status, 400);
    assert.match((await problem(response)).message, /not valid JSON/);
    response = await send('');
    assert.equal(response.status, 400);
    assert.match((await problem(response)).message, /empty/);
    response = await send('reason=x', 'application/x-www-form-urlencoded');
    assert.equal(response.status, 415);
    response = await send(JSON.stringify({ reason: '' }));
    assert.equal(response.status, 400);
    const invalid = await problem(response);
    assert.match(invalid.issues?.join('\n') ?? '', /body\.reason/);
    response = await send(JSON.stringify({ reason: 'ok', extra: 1 }));
    assert.equal(response.status, 400);
    response = await send(JSON.stringify({ reason: 'x'.repeat(harness.config.limits.jsonBodyBytes) }));
    assert.equal(response.status, 413);
    assert.equal((await problem(response)).error, 'payload-too-large');
    response = await alice.request('GET', '/v1/nothing-here');
    assert.equal(response.status, 404);
    assert.equal((await problem(response)).error, 'not-found');
    response = await alice.get('/v1/me', { 'x-custody-device': '../../etc/passwd' });
    assert.equal(response.status, 400);
    assert.match((await problem(response)).message, /x-custody-device/);
  });

  test("another user's device, or a revoked one, cannot be named in x-custody-device", async () => {
    const alice = await harness.as('alice');
    const carol = await harness.as('carol');
    const carols = await enrollTestDevice(carol, 0x32);
    let response = await alice.get('/v1/me', { 'x-custody-device': carols.id });
    assert.equal(response.status, 403);
    assert.match((await problem(response)).message, /not one of your enrolled devices/);
    const erin = await harness.as('erin'); // carol is no admin: a service admin revokes for her
    assert.equal((await erin.post(`/v1/devices/${carols.id}/revoke`, { reason: 'lost' })).status, 200);
    response = await carol.get('/v1/me', { 'x-custody-device': carols.id });
    assert.equal(response.status, 403);
    assert.match((await problem(response)).message, /was revoked/);
  });

  test('a state change is audited with who, what, when and which device; the chain verifies over HTTP', async () => {
    const alice = await harness.as('alice');
    const laptop = await enrollTestDevice(alice, 0x33);
    const response = await alice.post('/test/echo', { reason: 'checking the audit log' }, { 'x-custody-device': laptop.id });
    assert.equal(response.status, 200);
    const dave = await harness.as('dave');
    const page = (await (await dave.get('/v1/audit?after=0&limit=100')).json()) as { entries: { actor: string; device: string; action: string; details: string }[] };
    const entry = page.entries.find((e) => e.action === 'test.echo');
    assert.ok(entry);
    assert.equal(entry.actor, 'alice');
    assert.equal(entry.device, laptop.id);
    assert.deepEqual(JSON.parse(entry.details), { reason: 'checking the audit log' });
    const verify = (await (await dave.get('/v1/audit/verify')).json()) as { ok: boolean; entries: number };
    assert.equal(verify.ok, true);
    assert.ok(verify.entries >= 1);
  });

  test('the OpenAPI document describes the routes from their schemas', async () => {
    const response = await harness.anonymous().get('/openapi.json');
    assert.equal(response.status, 200);
    const doc = (await response.json()) as { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string }[] }>> };
    assert.match(doc.openapi, /^3\./);
    assert.ok(doc.paths['/v1/me']?.['get']);
    assert.deepEqual(doc.paths['/v1/audit']?.['get']?.parameters?.map((p) => p.name).sort(), ['after', 'limit']);
  });

  test('logs never hold an access token, a refresh token or an Authorization header', async () => {
    const bob = await harness.as('bob');
    await bob.get('/v1/me?access_token=' + bob.tokens.accessToken);
    await bob.get('/v1/audit');
    const all = harness.logs.join('');
    assert.ok(all.includes('"url":"/v1/me"'), 'requests are logged (by path)');
    for (const secret of [bob.tokens.accessToken, bob.tokens.refreshToken!, bob.tokens.accessToken.split('.')[2]!]) assert.ok(!all.includes(secret), 'a token reached the log');
    assert.ok(!/bearer/i.test(all), 'an Authorization header reached the log');
  });
});
