/**
 * JIT access over real HTTP, with the dev IdP's users (alice admin; bob admin and approver;
 * carol approver and on call; dave auditor; erin service admin; frank nobody) and a clock the
 * tests move.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { AccessRequestBody, DryRunBody, JitEventBody, PolicyBody, TargetBody } from '../../shared/api/jit.ts';
import { readAudit } from '../audit/audit-log.ts';
import { startHarness, type Caller, type Harness } from '../service.test-support.ts';
import { activeGrantFor } from './index.ts';
import { isEvent, openSse } from './sse.test-support.ts';
import { webhookSignature } from './webhook.ts';

const MINUTE = 60_000;
const WEBHOOK_SECRET = 'a webhook secret of the test';

interface Received {
  readonly body: string;
  readonly headers: IncomingMessage['headers'];
}

/** A webhook receiver on loopback that fails its first delivery (to see the retry). */
async function startReceiver(): Promise<{ url: string; received: Received[]; calls: () => number; server: Server; waitFor(done: () => boolean): Promise<void> }> {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  let calls = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls++;
      if (calls === 1) {
        res.writeHead(500).end();
        return;
      }
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      for (const wake of waiters.splice(0)) wake();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-path`,
    received,
    calls: () => calls,
    server,
    async waitFor(done) {
      while (!done()) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

async function json<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function refused(response: Response, status: number, message: RegExp): Promise<void> {
  const body = await json<{ message: string }>(response, status);
  assert.match(body.message, message);
}

describe('JIT access over HTTP', () => {
  let harness: Harness;
  let clock = Date.now();
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let alice: Caller, bob: Caller, carol: Caller, dave: Caller, erin: Caller, frank: Caller;
  let prodDb: TargetBody, devWeb: TargetBody, stagingApp: TargetBody;

  const file = (caller: Caller, body: Record<string, unknown>): Promise<Response> => caller.post('/v1/jit/requests', body);
  const prodRequest = { principal: 'postgres', durationMinutes: 30, reason: 'rotate the replication slot', ticket: 'OPS-1234' };
  const review = (caller: Caller, id: string, decision: 'approve' | 'deny', reason = 'looks right'): Promise<Response> => caller.post(`/v1/jit/requests/${id}/reviews`, { decision, reason });
  const events = async (): Promise<string[]> => (await readAudit(harness.service.db, 0, 1000)).map((e) => `${e.action} ${e.target ?? ''} ${e.actor}`);

  before(async () => {
    receiver = await startReceiver();
    harness = await startHarness({
      now: () => clock,
      accessTokenTtlSeconds: 24 * 3600,
      config: {
        jit: {
          pendingExpirySeconds: 600,
          approvedStartSeconds: 300,
          // The sweeper is tested on its own service below; here expiry is settled on read.
          sweepIntervalMs: 3_600_000,
          heartbeatMs: 50,
          webhook: { url: receiver.url, secret: WEBHOOK_SECRET, retryDelayMs: 10 },
        },
      },
    });
    [alice, bob, carol, dave, erin, frank] = await Promise.all([harness.as('alice'), harness.as('bob'), harness.as('carol'), harness.as('dave'), harness.as('erin'), harness.as('frank')]);
  });
  after(async () => {
    await harness.stop();
    receiver.server.close();
  });

  test('service admins add targets; addresses, ports, principals and unique names are checked', async () => {
    prodDb = await json<TargetBody>(await erin.post('/v1/jit/targets', { name: 'db-prod-1', host: '10.0.0.5', principals: ['postgres', 'ubuntu'], labels: ['db'], environment: 'prod' }), 201);
    assert.equal(prodDb.port, 22);
    assert.match(prodDb.id, /^tg_[a-z0-9]{20}$/);
    devWeb = await json<TargetBody>(await erin.post('/v1/jit/targets', { name: 'web-dev', host: 'web.dev.example.test', port: 2222, principals: ['deploy'], environment: 'dev' }), 201);
    stagingApp = await json<TargetBody>(await erin.post('/v1/jit/targets', { name: 'app-staging', host: '2001:db8::7', principals: ['app'], labels: ['app'], environment: 'staging' }), 201);

    await refused(await erin.post('/v1/jit/targets', { name: 'DB-PROD-1', host: '10.0.0.6', principals: ['postgres'], environment: 'prod' }), 409, /already exists/);
    await refused(await erin.post('/v1/jit/targets', { name: 'x', host: 'bad host!', principals: ['root'], environment: 'prod' }), 400, /host/);
    await refused(await erin.post('/v1/jit/targets', { name: 'x', host: '999.1.1.1', principals: ['root'], environment: 'prod' }), 400, /host/);
    await refused(await erin.post('/v1/jit/targets', { name: 'x', host: 'x.test', port: 70000, principals: ['root'], environment: 'prod' }), 400, /port/);
    await refused(await erin.post('/v1/jit/targets', { name: 'x', host: 'x.test', principals: ['Root;rm'], environment: 'prod' }), 400, /principals/);
    await refused(await erin.post('/v1/jit/targets', { name: 'x', host: 'x.test', principals: ['root'], environment: 'qa' }), 400, /environment/);
    await refused(await alice.post('/v1/jit/targets', { name: 'y', host: 'y.test', principals: ['root'], environment: 'dev' }), 403, /service-admin/);

    const renamed = await json<TargetBody>(await erin.request('PATCH', `/v1/jit/targets/${stagingApp.id}`, { body: JSON.stringify({ labels: ['app', 'eu'] }), headers: { 'content-type': 'application/json' } }), 200);
    assert.deepEqual(renamed.labels, ['app', 'eu']);
    await refused(await erin.request('PATCH', `/v1/jit/targets/${stagingApp.id}`, { body: JSON.stringify({ name: 'web-dev' }), headers: { 'content-type': 'application/json' } }), 409, /already exists/);
    assert.ok((await events()).some((e) => e.startsWith(`jit.target.create ${prodDb.id} erin`)));
  });

  test('service admins write versioned policies; a stale edit and a bad ticket pattern are refused', async () => {
    const prod = {
      name: 'production',
      priority: 10,
      match: { environment: 'prod' },
      requesterGroups: ['custody-admins', 'custody-oncall'],
      approverGroups: ['custody-approvers'],
      approvalsRequired: 2,
      maxDurationMinutes: 60,
      reasonRequired: true,
      ticketRequired: true,
      ticketPattern: '[A-Z]+-[0-9]+',
      autoApproveGroups: ['custody-oncall'],
      breakGlassGroups: ['custody-admins'],
    };
    const created = await json<PolicyBody>(await erin.post('/v1/jit/policies', { id: 'production', rules: prod }), 201);
    assert.equal(created.version, 1);
    await json<PolicyBody>(
      await erin.post('/v1/jit/policies', {
        id: 'development',
        rules: { name: 'dev and staging', match: { environment: 'dev' }, requesterGroups: ['custody-admins'], approverGroups: ['custody-approvers'], maxDurationMinutes: 240, reasonRequired: false },
      }),
      201,
    );
    await refused(await erin.post('/v1/jit/policies', { id: 'bad', rules: { ...prod, ticketPattern: '[A-Z' } }), 400, /ticketPattern/);
    await refused(await erin.post('/v1/jit/policies', { id: 'production', rules: prod }), 409, /already exists/);
    await refused(await alice.post('/v1/jit/policies', { id: 'mine', rules: prod }), 403, /service-admin/);

    const put = (version: number, rules: unknown): Promise<Response> => erin.request('PUT', '/v1/jit/policies/development', { body: JSON.stringify({ version, rules }), headers: { 'content-type': 'application/json' } });
    const v2 = await json<PolicyBody>(
      await put(1, { name: 'dev', match: { environment: 'dev' }, requesterGroups: ['custody-admins'], approverGroups: ['custody-approvers'], maxDurationMinutes: 120, reasonRequired: false }),
      200,
    );
    assert.equal(v2.version, 2);
    await refused(await put(1, v2.rules), 409, /version 2, not 1/);
    const versions = await json<{ policies: PolicyBody[] }>(await dave.get('/v1/jit/policies/development/versions'), 200);
    assert.deepEqual(
      versions.policies.map((p) => [p.version, p.rules.maxDurationMinutes]),
      [
        [1, 240],
        [2, 120],
      ],
    );
  });

  test('policies are read by service admins, auditors and approvers; the inbox is for approvers', async () => {
    const list = await json<{ policies: PolicyBody[] }>(await carol.get('/v1/jit/policies'), 200);
    assert.deepEqual(list.policies.map((p) => [p.id, p.version, p.updatedBy]), [
      ['development', 2, 'erin'],
      ['production', 1, 'erin'],
    ]);
    assert.equal((await dave.get('/v1/jit/policies')).status, 200);
    await refused(await alice.get('/v1/jit/policies'), 403, /service-admin or auditor or approver/);
    await refused(await alice.get('/v1/jit/inbox'), 403, /approver/);
    await refused(await erin.get('/v1/jit/policies/nothing-here/versions'), 404, /does not exist/);
  });

  test('each caller sees the targets policy lets them request; overseers see all', async () => {
    const names = async (caller: Caller, query = ''): Promise<string[]> => (await json<{ targets: TargetBody[] }>(await caller.get(`/v1/jit/targets${query}`), 200)).targets.map((t) => t.name);
    assert.deepEqual(await names(alice), ['db-prod-1', 'web-dev']);
    assert.deepEqual(await names(carol), ['db-prod-1']);
    assert.deepEqual(await names(frank), []);
    assert.deepEqual(await names(dave), ['app-staging', 'db-prod-1', 'web-dev']);
    assert.deepEqual(await names(alice, '?q=PROD'), ['db-prod-1']);
    assert.deepEqual(await names(dave, '?label=eu'), ['app-staging']);
    assert.equal((await frank.get(`/v1/jit/targets/${prodDb.id}`)).status, 404);
    const seen = await json<TargetBody>(await alice.get(`/v1/jit/targets/${prodDb.id}`), 200);
    assert.deepEqual(seen.access, { request: true, breakGlass: true });
    assert.equal((await harness.anonymous().get('/v1/jit/targets')).status, 401);
  });

  test('a dry run tells the limits, the approvals, auto-approval and the approvers seen', async () => {
    // Approvers the service has seen on JIT calls are suggested: carol listed targets above, bob now.
    await json(await bob.get('/v1/jit/requests'), 200);
    const aliceRun = await json<DryRunBody>(await alice.post('/v1/jit/requests/dry-run', { targetId: prodDb.id }), 200);
    assert.equal(aliceRun.allowed, true);
    assert.deepEqual(aliceRun.limits, {
      maxDurationMinutes: 60,
      reasonRequired: true,
      ticketRequired: true,
      ticketPattern: '[A-Z]+-[0-9]+',
      approvalsRequired: 2,
      autoApprove: false,
      breakGlassAllowed: true,
      principals: ['postgres', 'ubuntu'],
    });
    assert.deepEqual(aliceRun.suggestedReviewers.map((r) => r.subject).sort(), ['bob', 'carol']);
    const tooLong = await json<DryRunBody>(await alice.post('/v1/jit/requests/dry-run', { targetId: prodDb.id, durationMinutes: 90, ticket: 'nope' }), 200);
    assert.equal(tooLong.allowed, false);
    assert.equal(tooLong.problems.length, 2, tooLong.problems.join('; '));
    const carolRun = await json<DryRunBody>(await carol.post('/v1/jit/requests/dry-run', { targetId: prodDb.id }), 200);
    assert.equal(carolRun.limits?.autoApprove, true);
    assert.deepEqual(carolRun.suggestedReviewers.map((r) => r.subject), ['bob']);
    const frankRun = await json<DryRunBody>(await frank.post('/v1/jit/requests/dry-run', { targetId: prodDb.id }), 200);
    assert.equal(frankRun.allowed, false);
    assert.match(frankRun.problems[0]!, /no policy lets your groups request/);
  });

  test('a request breaking the policy is refused, saying what is wrong', async () => {
    await refused(await file(alice, { ...prodRequest, targetId: prodDb.id, durationMinutes: 61 }), 400, /61 minutes is longer than policy production allows \(60\)/);
    await refused(await file(alice, { ...prodRequest, targetId: prodDb.id, reason: undefined }), 400, /requires a reason/);
    await refused(await file(alice, { ...prodRequest, targetId: prodDb.id, ticket: undefined }), 400, /requires a ticket matching/);
    await refused(await file(alice, { ...prodRequest, targetId: prodDb.id, ticket: 'see chat' }), 400, /does not match/);
    await refused(await file(alice, { ...prodRequest, targetId: prodDb.id, principal: 'root' }), 400, /not one of db-prod-1's: postgres, ubuntu/);
    await refused(await file(alice, { ...prodRequest, targetId: 'tg_aaaaaaaaaaaaaaaaaaaa' }), 404, /does not exist/);
    await refused(await file(alice, { ...prodRequest, targetId: '../../etc/passwd' }), 400, /targetId/);
    await refused(await file(frank, { ...prodRequest, targetId: prodDb.id }), 403, /no policy lets your groups/);
    await refused(await file(alice, { ...prodRequest, targetId: stagingApp.id }), 403, /no policy/);
    await refused(await file(alice, { ...prodRequest, targetId: prodDb.id, durationMinutes: 0 }), 400, /durationMinutes/);
    await refused(await alice.request('POST', '/v1/jit/requests', { body: '{"targetId": ', headers: { 'content-type': 'application/json' } }), 400, /not valid JSON/);
    await refused(await file(alice, { ...prodRequest, targetId: prodDb.id, extra: 'field' }), 400, /extra|unrecognized/i);
    await refused(await file(alice, { ...prodRequest, targetId: prodDb.id, reason: 'x'.repeat(300_000) }), 413, /larger/);
  });

  test('two distinct approvers approve, the requester starts and drops the grant; the SSH CA sees it only while active', async () => {
    const filed = await json<AccessRequestBody>(await file(alice, { ...prodRequest, targetId: prodDb.id }), 201);
    assert.equal(filed.state, 'PENDING');
    assert.equal(filed.expiresAt, clock + 600_000);
    assert.equal(filed.remainingMs, 600_000);

    await refused(await review(alice, filed.id, 'approve'), 403, /approver/);
    const once = await json<AccessRequestBody>(await review(bob, filed.id, 'approve'), 200);
    assert.deepEqual([once.state, once.approvals], ['PENDING', 1]);
    await refused(await review(bob, filed.id, 'approve'), 409, /each approver counts once/);
    await refused(await bob.post(`/v1/jit/requests/${filed.id}/reviews`, { decision: 'approve', reason: '  ' }), 400, /reason/);
    const inbox = await json<{ pending: AccessRequestBody[] }>(await carol.get('/v1/jit/inbox'), 200);
    assert.deepEqual(inbox.pending.map((r) => r.id), [filed.id]);
    assert.deepEqual((await json<{ pending: AccessRequestBody[] }>(await bob.get('/v1/jit/inbox'), 200)).pending, []);

    const approved = await json<AccessRequestBody>(await review(carol, filed.id, 'approve', 'ticket checked'), 200);
    assert.deepEqual([approved.state, approved.approvals, approved.reviews.map((r) => r.reviewer)], ['APPROVED', 2, ['bob', 'carol']]);
    assert.equal(approved.reviews[1]!.reason, 'ticket checked');
    await refused(await review(carol, filed.id, 'deny', 'changed my mind'), 409, /APPROVED: only a pending request/);
    assert.equal((await activeGrantFor(harness.service.db, filed.id, 'alice', clock)).usable, false);

    await refused(await bob.post(`/v1/jit/requests/${filed.id}/start`, {}), 403, /only the requester/);
    clock += 1000;
    const started = await json<AccessRequestBody>(await alice.post(`/v1/jit/requests/${filed.id}/start`, {}), 200);
    assert.deepEqual([started.state, started.endsAt], ['ACTIVE', clock + 30 * MINUTE]);
    const grant = await activeGrantFor(harness.service.db, filed.id, 'alice', clock);
    assert.deepEqual(grant, { usable: true, grant: { id: filed.id, principals: ['postgres'], target: { id: prodDb.id, name: 'db-prod-1', host: '10.0.0.5', port: 22 }, endsAt: clock + 30 * MINUTE } });
    assert.deepEqual(await activeGrantFor(harness.service.db, filed.id, 'bob', clock).then((g) => g.usable || g.reason), 'not-yours');
    assert.deepEqual(await activeGrantFor(harness.service.db, filed.id, 'alice', clock + 30 * MINUTE).then((g) => g.usable || g.reason), 'expired');

    await refused(await bob.post(`/v1/jit/requests/${filed.id}/end`, {}), 403, /only the requester/);
    const ended = await json<AccessRequestBody>(await alice.post(`/v1/jit/requests/${filed.id}/end`, { reason: 'done' }), 200);
    assert.deepEqual([ended.state, ended.closedBy, ended.closeReason, ended.endsAt], ['ENDED', 'alice', 'done', clock]);
    assert.deepEqual(await activeGrantFor(harness.service.db, filed.id, 'alice', clock).then((g) => g.usable || g.reason), 'ended');
    const audit = await events();
    for (const line of [`jit.request.create ${filed.id} alice`, `jit.request.review ${filed.id} bob`, `jit.request.approved ${filed.id} carol`, `jit.grant.start ${filed.id} alice`, `jit.grant.end ${filed.id} alice`]) {
      assert.ok(audit.includes(line), `audit has ${line}`);
    }
  });

  test('no self-approval; one denial decides; only the requester cancels, and not after a decision', async () => {
    const bobs = await json<AccessRequestBody>(await file(bob, { ...prodRequest, targetId: prodDb.id }), 201);
    await refused(await review(bob, bobs.id, 'approve'), 403, /your own request/);
    const denied = await json<AccessRequestBody>(await review(carol, bobs.id, 'deny', 'no change window'), 200);
    assert.deepEqual([denied.state, denied.closeReason], ['DENIED', 'no change window']);
    await refused(await bob.post(`/v1/jit/requests/${bobs.id}/cancel`, {}), 409, /DENIED, not PENDING/);

    const alices = await json<AccessRequestBody>(await file(alice, { ...prodRequest, targetId: prodDb.id }), 201);
    await refused(await bob.post(`/v1/jit/requests/${alices.id}/cancel`, {}), 403, /only the requester/);
    assert.equal((await json<AccessRequestBody>(await alice.post(`/v1/jit/requests/${alices.id}/cancel`, { reason: 'not needed' }), 200)).state, 'CANCELLED');
    await refused(await review(carol, alices.id, 'approve'), 409, /CANCELLED/);
    await refused(await frank.get(`/v1/jit/requests/${alices.id}`), 403, /neither yours/);
    assert.equal((await json<AccessRequestBody>(await dave.get(`/v1/jit/requests/${alices.id}`), 200)).state, 'CANCELLED');
    const mine = await json<{ requests: AccessRequestBody[] }>(await alice.get('/v1/jit/requests?state=CANCELLED'), 200);
    assert.deepEqual(mine.requests.map((r) => r.id), [alices.id]);
  });

  test('the OpenAPI document describes the JIT routes', async () => {
    const document = await json<{ paths: Record<string, unknown> }>(await harness.anonymous().get('/openapi.json'), 200);
    for (const path of ['/v1/jit/targets', '/v1/jit/policies/{id}', '/v1/jit/requests/dry-run', '/v1/jit/requests/{id}/reviews', '/v1/jit/inbox', '/v1/jit/events', '/v1/jit/events/ticket']) {
      assert.ok(path in document.paths, `${path} is in /openapi.json`);
    }
  });

  test('malformed ids and path tricks are refused before anything is read', async () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', 'jr_AAAAAAAAAAAAAAAAAAAA', 'jr_short', '%00', 'jr_aaaaaaaaaaaaaaaaaaaa%2F..']) {
      await refused(await alice.get(`/v1/jit/requests/${id}`), 400, /id/);
      await refused(await review(bob, id, 'approve'), 400, /id/);
    }
    await refused(await alice.get('/v1/jit/requests/jr_aaaaaaaaaaaaaaaaaaaa'), 404, /does not exist/);
    await refused(await review(bob, 'jr_aaaaaaaaaaaaaaaaaaaa', 'approve'), 404, /does not exist/);
    await refused(await erin.request('PATCH', '/v1/jit/targets/..%2Ftg_x', { body: '{"disabled":true}', headers: { 'content-type': 'application/json' } }), 400, /id/);
    await refused(await dave.get('/v1/jit/policies/..%2Fproduction/versions'), 400, /id/);
  });

  test('the clock expires an undecided request, an unstarted grant, and ends an active one, on read', async () => {
    const pending = await json<AccessRequestBody>(await file(alice, { ...prodRequest, targetId: prodDb.id }), 201);
    const approved = await json<AccessRequestBody>(await file(carol, { ...prodRequest, targetId: prodDb.id }), 201);
    assert.deepEqual([approved.state, approved.autoApproved, approved.expiresAt], ['APPROVED', true, clock + 300_000]);
    const active = await json<AccessRequestBody>(await file(carol, { ...prodRequest, targetId: prodDb.id, durationMinutes: 5 }), 201);
    await json<AccessRequestBody>(await carol.post(`/v1/jit/requests/${active.id}/start`, {}), 200);

    clock += 5 * MINUTE; // the unstarted grant's and the active grant's deadlines
    await refused(await carol.post(`/v1/jit/requests/${approved.id}/start`, {}), 409, /EXPIRED/);
    assert.equal((await json<AccessRequestBody>(await carol.get(`/v1/jit/requests/${active.id}`), 200)).state, 'ENDED');
    assert.equal((await json<AccessRequestBody>(await alice.get(`/v1/jit/requests/${pending.id}`), 200)).state, 'PENDING');
    clock += 5 * MINUTE;
    await refused(await review(bob, pending.id, 'approve'), 409, /EXPIRED: only a pending request/);
    const expired = await json<AccessRequestBody>(await alice.get(`/v1/jit/requests/${pending.id}`), 200);
    assert.deepEqual([expired.state, expired.closedBy, expired.closedAt, expired.remainingMs], ['EXPIRED', 'system', pending.expiresAt, null]);
    const audit = await events();
    assert.ok(audit.includes(`jit.request.expire ${pending.id} system`));
    assert.ok(audit.includes(`jit.request.expire ${approved.id} system`));
    assert.ok(audit.includes(`jit.grant.end ${active.id} system`));
    // Settled once: reading again adds nothing.
    await alice.get(`/v1/jit/requests/${pending.id}`);
    assert.equal((await events()).filter((e) => e.startsWith(`jit.request.expire ${pending.id}`)).length, 1);
  });

  test('racing approvals for the last slot, and approve racing cancel, have one winner', async () => {
    const dev = { targetId: devWeb.id, principal: 'deploy', durationMinutes: 10 };
    for (let round = 0; round < 5; round++) {
      const one = await json<AccessRequestBody>(await file(alice, dev), 201);
      const results = await Promise.all([review(bob, one.id, 'approve'), review(carol, one.id, 'approve')]);
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 409]);
      const after = await json<AccessRequestBody>(await alice.get(`/v1/jit/requests/${one.id}`), 200);
      assert.deepEqual([after.state, after.approvals], ['APPROVED', 1]);

      const two = await json<AccessRequestBody>(await file(alice, dev), 201);
      const raced = await Promise.all([review(bob, two.id, 'approve'), alice.post(`/v1/jit/requests/${two.id}/cancel`, {})]);
      assert.deepEqual(raced.map((r) => r.status).sort(), [200, 409]);
      const final = await json<AccessRequestBody>(await alice.get(`/v1/jit/requests/${two.id}`), 200);
      assert.ok(final.state === 'APPROVED' ? final.approvals === 1 : final.state === 'CANCELLED' && final.approvals === 0, JSON.stringify(final));
    }
    const prod = await json<AccessRequestBody>(await file(alice, { ...prodRequest, targetId: prodDb.id }), 201);
    const same = await Promise.all([review(bob, prod.id, 'approve'), review(bob, prod.id, 'approve')]);
    assert.deepEqual(same.map((r) => r.status).sort(), [200, 409]);
    assert.equal((await json<AccessRequestBody>(await alice.get(`/v1/jit/requests/${prod.id}`), 200)).approvals, 1);
  });

  test("on call, carol's request is approved at once", async () => {
    const carols = await json<AccessRequestBody>(await file(carol, { ...prodRequest, targetId: prodDb.id }), 201);
    assert.deepEqual([carols.state, carols.autoApproved, carols.approvalsRequired, carols.reviews], ['APPROVED', true, 2, []]);
    assert.ok((await events()).includes(`jit.request.create ${carols.id} carol`));
  });

  test('a requester’s open stream hears the decision another user makes, and resumes from Last-Event-ID', async () => {
    const ticket = await json<{ ticket: string; expiresAt: number }>(await alice.post('/v1/jit/events/ticket', {}), 200);
    assert.equal(ticket.expiresAt, clock + 60_000);
    const url = new URL('/v1/jit/events', harness.service.url);
    const stream = await openSse(`${url}?ticket=${ticket.ticket}`);
    assert.equal(stream.status, 200);
    await stream.next((f) => f.comment === 'connected');
    const filed = await json<AccessRequestBody>(await file(alice, { ...prodRequest, targetId: prodDb.id }), 201);
    await review(bob, filed.id, 'approve');
    const created = await stream.next(isEvent);
    const reviewed = await stream.next(isEvent);
    assert.deepEqual([created, reviewed].map((f) => (JSON.parse(f.data!) as JitEventBody).type), ['request.created', 'request.reviewed']);
    stream.close();

    // While alice is away, carol decides; alice comes back with the last id she saw.
    await review(carol, filed.id, 'approve');
    const again = await openSse(url.toString(), { authorization: `Bearer ${alice.tokens.accessToken}`, 'last-event-id': reviewed.id! });
    const missed = await again.next(isEvent);
    const body = JSON.parse(missed.data!) as JitEventBody;
    assert.deepEqual([body.type, body.requestId, body.state, Number(missed.id)], ['request.approved', filed.id, 'APPROVED', Number(reviewed.id) + 1]);
    await again.next((f) => f.comment === 'connected');
    await again.next((f) => f.comment === 'heartbeat');
    again.close();
  });

  test("approvers see new requests live; others see nothing of them", async () => {
    const url = new URL('/v1/jit/events', harness.service.url).toString();
    const carolStream = await openSse(url, { authorization: `Bearer ${carol.tokens.accessToken}` });
    const aliceStream = await openSse(url, { authorization: `Bearer ${alice.tokens.accessToken}` });
    await carolStream.next((f) => f.comment === 'connected');
    await aliceStream.next((f) => f.comment === 'connected');
    // bob's request is none of alice's business (she approves nothing); her own, next, is.
    const bobs = await json<AccessRequestBody>(await file(bob, { ...prodRequest, targetId: prodDb.id }), 201);
    const alices = await json<AccessRequestBody>(await file(alice, { ...prodRequest, targetId: prodDb.id }), 201);
    const seen = [await carolStream.next(isEvent), await carolStream.next(isEvent)].map((f) => JSON.parse(f.data!) as JitEventBody);
    assert.deepEqual(
      seen.map((e) => [e.type, e.requestId, e.requester]),
      [
        ['request.created', bobs.id, 'bob'],
        ['request.created', alices.id, 'alice'],
      ],
    );
    const hers = JSON.parse((await aliceStream.next(isEvent)).data!) as JitEventBody;
    assert.equal(hers.requestId, alices.id);
    carolStream.close();
    aliceStream.close();
  });

  test('an event-stream ticket works once and only for 60 s; the stream needs a token or a ticket', async () => {
    const url = new URL('/v1/jit/events', harness.service.url).toString();
    const { ticket } = await json<{ ticket: string }>(await alice.post('/v1/jit/events/ticket', {}), 200);
    const first = await openSse(`${url}?ticket=${ticket}`);
    assert.equal(first.status, 200);
    first.close();
    const second = await openSse(`${url}?ticket=${ticket}`);
    assert.equal(second.status, 401);
    assert.match(await second.response.text(), /used already/);

    const late = await json<{ ticket: string }>(await alice.post('/v1/jit/events/ticket', {}), 200);
    clock += 60_000;
    const expired = await openSse(`${url}?ticket=${late.ticket}`);
    assert.equal(expired.status, 401);
    assert.match(await expired.response.text(), /expired/);

    assert.equal((await openSse(url)).status, 401);
    assert.equal((await openSse(`${url}?ticket=${'x'.repeat(43)}`)).status, 401);
    assert.equal((await openSse(`${url}?ticket=short`)).status, 400);
    assert.equal((await harness.anonymous().post('/v1/jit/events/ticket', {})).status, 401);
    assert.ok(!harness.logs.join('').includes(ticket), 'the ticket is not logged');
    assert.ok(!harness.logs.join('').includes(alice.tokens.accessToken), 'the token is not logged');
  });

  test('break-glass is active at once, alerts approvers and service admins and the webhook, and is reviewed afterwards', async () => {
    const url = new URL('/v1/jit/events', harness.service.url).toString();
    const erinStream = await openSse(url, { authorization: `Bearer ${erin.tokens.accessToken}` });
    await erinStream.next((f) => f.comment === 'connected');
    await refused(await file(alice, { targetId: prodDb.id, principal: 'postgres', durationMinutes: 15, breakGlass: true }), 400, /reason/);
    await refused(await file(carol, { ...prodRequest, targetId: prodDb.id, breakGlass: true }), 403, /break glass/);
    const glass = await json<AccessRequestBody>(await file(alice, { ...prodRequest, targetId: prodDb.id, durationMinutes: 15, breakGlass: true, reason: 'primary is down' }), 201);
    assert.deepEqual([glass.state, glass.breakGlass, glass.reviewNeeded, glass.endsAt], ['ACTIVE', true, true, clock + 15 * MINUTE]);
    assert.equal((await activeGrantFor(harness.service.db, glass.id, 'alice', clock)).usable, true);

    const alert = JSON.parse((await erinStream.next((f) => isEvent(f) && (JSON.parse(f.data!) as JitEventBody).requestId === glass.id)).data!) as JitEventBody;
    assert.deepEqual([alert.type, alert.breakGlass], ['break-glass.opened', true]);
    assert.ok((await events()).includes(`jit.break-glass.open ${glass.id} alice`));

    // The webhook: every event delivered, signed, the one the receiver failed first retried.
    const seqs = (): Set<number> => new Set(receiver.received.map((r) => (JSON.parse(r.body) as JitEventBody).seq));
    await receiver.waitFor(() => Array.from({ length: alert.seq }, (_, i) => i + 1).every((seq) => seqs().has(seq)));
    assert.equal(receiver.calls(), receiver.received.length + 1);
    const delivered = receiver.received.find((r) => (JSON.parse(r.body) as JitEventBody).requestId === glass.id);
    assert.ok(delivered !== undefined);
    const timestamp = String(delivered.headers['x-custody-timestamp']);
    assert.equal(delivered.headers['x-custody-signature'], webhookSignature(WEBHOOK_SECRET, timestamp, delivered.body));
    assert.equal(delivered.headers['x-custody-event'], 'break-glass.opened');

    const toReview = await json<{ toReview: AccessRequestBody[] }>(await bob.get('/v1/jit/inbox'), 200);
    assert.deepEqual(toReview.toReview.map((r) => r.id), [glass.id]);
    await refused(await review(alice, glass.id, 'approve'), 403, /approver/);
    const reviewed = await json<AccessRequestBody>(await review(bob, glass.id, 'approve', 'outage INC-7 confirmed'), 200);
    assert.deepEqual([reviewed.reviewNeeded, reviewed.reviews[0]!.kind, reviewed.state], [false, 'post-hoc', 'ACTIVE']);
    await refused(await review(carol, glass.id, 'deny', 'late'), 409, /reviewed already/);
    assert.ok((await events()).includes(`jit.break-glass.review ${glass.id} bob`));

    // Revocation: not by the requester, by an approver.
    await refused(await alice.post(`/v1/jit/requests/${glass.id}/revoke`, { reason: 'x' }), 403, /approver or service-admin/);
    const revoked = await json<AccessRequestBody>(await carol.post(`/v1/jit/requests/${glass.id}/revoke`, { reason: 'outage over' }), 200);
    assert.deepEqual([revoked.state, revoked.closedBy], ['REVOKED', 'carol']);
    assert.deepEqual(await activeGrantFor(harness.service.db, glass.id, 'alice', clock).then((g) => g.usable || g.reason), 'revoked');
    await refused(await carol.post(`/v1/jit/requests/${glass.id}/revoke`, { reason: 'again' }), 409, /REVOKED, not ACTIVE/);
    erinStream.close();
  });

  test('a service admin may revoke any active grant', async () => {
    const carols = await json<AccessRequestBody>(await file(carol, { ...prodRequest, targetId: prodDb.id }), 201);
    await json(await carol.post(`/v1/jit/requests/${carols.id}/start`, {}), 200);
    await refused(await dave.post(`/v1/jit/requests/${carols.id}/revoke`, { reason: 'audit finding' }), 403, /approver or service-admin/);
    const revoked = await json<AccessRequestBody>(await erin.post(`/v1/jit/requests/${carols.id}/revoke`, { reason: 'audit finding' }), 200);
    assert.deepEqual([revoked.state, revoked.closedBy, revoked.closeReason], ['REVOKED', 'erin', 'audit finding']);
  });

  test('a disabled target takes no new requests', async () => {
    await json<TargetBody>(await erin.request('PATCH', `/v1/jit/targets/${devWeb.id}`, { body: '{"disabled":true}', headers: { 'content-type': 'application/json' } }), 200);
    await refused(await file(alice, { targetId: devWeb.id, principal: 'deploy', durationMinutes: 10 }), 409, /disabled/);
    assert.ok((await events()).some((e) => e.startsWith(`jit.target.disable ${devWeb.id} erin`)));
  });

  test('a stream ends with an expired event when the token it was opened with expires', async () => {
    // The token is still accepted within the clock tolerance, but its expiry has passed.
    clock = Date.now() + alice.tokens.expiresIn * 1000 + 5_000;
    const stream = await openSse(new URL('/v1/jit/events', harness.service.url).toString(), { authorization: `Bearer ${alice.tokens.accessToken}` });
    assert.equal(stream.status, 200);
    assert.equal((await stream.next((f) => f.event !== undefined)).event, 'expired');
    await assert.rejects(stream.next(), /the event stream ended/);
  });
});

describe('the JIT sweeper, resync and shutdown', () => {
  test('the sweeper settles expiries whether or not anyone reads; an old Last-Event-ID gets resync; open streams do not hold the service', async () => {
    let clock = Date.now();
    const harness = await startHarness({ now: () => clock, accessTokenTtlSeconds: 24 * 3600, config: { jit: { pendingExpirySeconds: 60, sweepIntervalMs: 20, eventBuffer: 2 } } });
    let stopped = false;
    try {
      const [erin, alice] = await Promise.all([harness.as('erin'), harness.as('alice')]);
      const target = await json<TargetBody>(await erin.post('/v1/jit/targets', { name: 't', host: 't.test', principals: ['ops'], environment: 'dev' }), 201);
      await json(await erin.post('/v1/jit/policies', { id: 'all', rules: { name: 'all', requesterGroups: ['custody-admins'], approverGroups: ['custody-approvers'], maxDurationMinutes: 60, reasonRequired: false } }), 201);
      const filed = await json<AccessRequestBody>(await alice.post('/v1/jit/requests', { targetId: target.id, principal: 'ops', durationMinutes: 5 }), 201);
      clock += 60_000;
      const db = harness.service.db;
      let state: string | undefined;
      while (state !== 'EXPIRED') {
        await new Promise((resolve) => setTimeout(resolve, 10));
        state = (await db.get<{ state: string }>('SELECT state FROM jit_requests WHERE id = ?', [filed.id]))?.state;
      }
      const audit = await readAudit(db, 0, 100);
      assert.ok(audit.some((e) => e.action === 'jit.request.expire' && e.target === filed.id && e.actor === 'system'));

      // Events 1 (created) and 2 (expired), then 3 and 4: the buffer of two holds 3 and 4 only.
      for (let i = 0; i < 2; i++) await json(await alice.post('/v1/jit/requests', { targetId: target.id, principal: 'ops', durationMinutes: 5 }), 201);
      const url = new URL('/v1/jit/events', harness.service.url).toString();
      const stale = await openSse(url, { authorization: `Bearer ${alice.tokens.accessToken}`, 'last-event-id': '1' });
      assert.equal((await stale.next((f) => f.event !== undefined || isEvent(f))).event, 'resync');
      stale.close();
      const recent = await openSse(url, { authorization: `Bearer ${alice.tokens.accessToken}`, 'last-event-id': '3' });
      assert.equal((await recent.next(isEvent)).id, '4');
      // Left open: stopping the service must end it.
      const ended = recent.next((f) => f.comment === 'never sent').then(
        () => 'frame',
        (error: Error) => error.message,
      );
      stopped = true;
      await harness.stop();
      assert.match(await ended, /the event stream ended/);
    } finally {
      if (!stopped) await harness.stop();
    }
  });
});
