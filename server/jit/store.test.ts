/**
 * The JIT lifecycle on both databases (SQLite and a real PostgreSQL): races that must have one
 * winner, event numbers in commit order, expiry settled once, tickets used once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyRules, RequestState } from '../../shared/api/jit.ts';
import { appendAudit, readAudit, verifyChain } from '../audit/audit-log.ts';
import type { Principal } from '../auth/access-token.ts';
import type { Role } from '../auth/roles.ts';
import { describeDatabases } from '../db/backends.test-support.ts';
import type { Database } from '../db/database.ts';
import { JitConfigSchema } from './config.ts';
import { InProcessFanout, type JitEvent } from './events.ts';
import { issueTicket, redeemTicket } from './live.ts';
import { createPolicy, updatePolicy } from './policies.ts';
import { activeGrantFor, AccessRequests, type AuditCall } from './requests.ts';
import { createTarget } from './targets.ts';

const HOUR = 3_600_000;

function person(subject: string, groups: string[], roles: Role[]): Principal {
  return { subject, name: subject, email: undefined, groups, roles: new Set(roles), expiresAt: Date.now() + HOUR };
}
const alice = person('alice', ['custody-admins'], ['admin']);
const bob = person('bob', ['custody-admins', 'custody-approvers'], ['admin', 'approver']);
const carol = person('carol', ['custody-approvers'], ['approver']);

describeDatabases('JIT lifecycle', (open) => {
  async function setup(approvalsRequired: number): Promise<{ db: Database; requests: AccessRequests; events: JitEvent[]; clock: { now: number }; targetId: string; audit: (who: Principal) => AuditCall }> {
    const db = await open();
    const clock = { now: Date.now() };
    const fanout = await InProcessFanout.start(db);
    const events: JitEvent[] = [];
    fanout.subscribe((event) => events.push(event));
    const requests = new AccessRequests({ db, now: () => clock.now, config: JitConfigSchema.parse({ pendingExpirySeconds: 60 }), fanout });
    const target = await db.transaction(async (tx) => {
      await createPolicy(tx, 'all', { name: 'all', priority: 1, enabled: true, match: {}, requesterGroups: ['custody-admins'], approverGroups: ['custody-approvers'], approvalsRequired, maxDurationMinutes: 60, reasonRequired: false, ticketRequired: false, autoApproveGroups: [], breakGlassGroups: ['custody-admins'] }, 'erin', clock.now);
      return createTarget(tx, { name: 'db', host: 'db.test', port: 22, principals: ['ops'], labels: [], environment: 'prod' }, clock.now);
    });
    const audit =
      (who: Principal): AuditCall =>
      (tx, action, target, details) =>
        appendAudit(tx, { actor: who.subject, action, target, ...(details === undefined ? {} : { details }) }, clock.now);
    return { db, requests, events, clock, targetId: target.id, audit };
  }

  const statusOf = (outcome: PromiseSettledResult<unknown>): string => (outcome.status === 'fulfilled' ? 'won' : ((outcome.reason as { code?: string }).code ?? String(outcome.reason)));

  test('two approvals racing for the last slot, or approve racing cancel, never both win', async () => {
    const { db, requests, targetId, audit } = await setup(1);
    for (let round = 0; round < 10; round++) {
      const one = await requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, breakGlass: false }, audit(alice));
      const outcomes = await Promise.allSettled([requests.review(bob, one.id, 'approve', 'ok', audit(bob)), requests.review(carol, one.id, 'approve', 'ok', audit(carol))]);
      assert.deepEqual(outcomes.map(statusOf).sort(), ['conflict', 'won']);
      const after = await requests.detail(alice, one.id);
      assert.deepEqual([after.state, after.approvals, after.reviews.length], ['APPROVED', 1, 1]);

      const two = await requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, breakGlass: false }, audit(alice));
      const raced = await Promise.allSettled([requests.review(carol, two.id, 'approve', 'ok', audit(carol)), requests.cancel(alice, two.id, undefined, audit(alice))]);
      assert.deepEqual(raced.map(statusOf).sort(), ['conflict', 'won']);
      const final = await requests.detail(alice, two.id);
      assert.ok((['APPROVED', 'CANCELLED'] as RequestState[]).includes(final.state));
    }
    const decided = (await readAudit(db, 0, 1000)).filter((e) => e.action === 'jit.request.approved' || e.action === 'jit.request.cancel');
    assert.equal(decided.length, 20);
    assert.deepEqual(await verifyChain(db).then((r) => r.ok), true);
  });

  test('the same approver twice at once counts once', async () => {
    const { requests, targetId, audit } = await setup(2);
    const filed = await requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, breakGlass: false }, audit(alice));
    const outcomes = await Promise.allSettled([1, 2, 3].map(() => requests.review(carol, filed.id, 'approve', 'ok', audit(carol))));
    assert.deepEqual(outcomes.map(statusOf).sort(), ['conflict', 'conflict', 'won']);
    const after = await requests.detail(alice, filed.id);
    assert.deepEqual([after.state, after.approvals], ['PENDING', 1]);
  });

  test('events are numbered in commit order without gaps, even when changes race', async () => {
    const { requests, events, targetId, audit } = await setup(1);
    const filed = await Promise.all([1, 2, 3, 4, 5, 6].map(() => requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, breakGlass: false }, audit(alice))));
    await Promise.allSettled(filed.flatMap((r) => [requests.review(bob, r.id, 'approve', 'ok', audit(bob)), requests.review(carol, r.id, 'deny', 'no', audit(carol))]));
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
    );
    assert.equal(events.length, 12);
  });

  test('expiry is settled once, however many sweeps and reads race for it', async () => {
    const { db, requests, clock, targetId, audit } = await setup(1);
    const filed = await requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, breakGlass: false }, audit(alice));
    clock.now += 60_000;
    await Promise.all([requests.sweep(), requests.sweep(), requests.detail(alice, filed.id), requests.mine(alice, undefined, 10)]);
    assert.equal((await requests.detail(alice, filed.id)).state, 'EXPIRED');
    assert.equal((await readAudit(db, 0, 100)).filter((e) => e.action === 'jit.request.expire').length, 1);
  });

  test('a grant is usable by its requester only while active', async () => {
    const { db, requests, clock, targetId, audit } = await setup(1);
    const glass = await requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, reason: 'outage', breakGlass: true }, audit(alice));
    const usable = await activeGrantFor(db, glass.id, 'alice', clock.now);
    assert.ok(usable.usable);
    assert.deepEqual(usable.grant.principals, ['ops']);
    assert.equal(usable.grant.endsAt, clock.now + 10 * 60_000);
    const reason = async (id: string, subject: string, at: number): Promise<string> => {
      const result = await activeGrantFor(db, id, subject, at);
      return result.usable ? 'usable' : result.reason;
    };
    assert.equal(await reason(glass.id, 'bob', clock.now), 'not-yours');
    assert.equal(await reason(glass.id, 'alice', clock.now + 10 * 60_000), 'expired');
    assert.equal(await reason('jr_aaaaaaaaaaaaaaaaaaaa', 'alice', clock.now), 'not-found');
    const pending = await requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, breakGlass: false }, audit(alice));
    assert.equal(await reason(pending.id, 'alice', clock.now), 'not-active');
    await requests.revoke(bob, glass.id, 'over', audit(bob));
    assert.equal(await reason(glass.id, 'alice', clock.now), 'revoked');
  });

  test('reviewers must be in the approver groups the request was filed with; a later policy edit does not move them', async () => {
    const { db, requests, targetId, audit } = await setup(1);
    const zoe = person('zoe', ['dba-leads'], ['approver']);
    const filed = await requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, breakGlass: false }, audit(alice));
    await assert.rejects(requests.review(zoe, filed.id, 'approve', 'ok', audit(zoe)), /only members of custody-approvers review this request/);
    const current = (await db.get<{ rules: string }>("SELECT rules FROM jit_policies WHERE id = 'all'"))!;
    await db.transaction((tx) => updatePolicy(tx, 'all', 1, { ...(JSON.parse(current.rules) as PolicyRules), approverGroups: ['dba-leads'], approvalsRequired: 3 }, 'erin', Date.now()));
    await assert.rejects(requests.review(zoe, filed.id, 'approve', 'ok', audit(zoe)), /only members of custody-approvers/);
    const approved = await requests.review(carol, filed.id, 'approve', 'ok', audit(carol));
    assert.deepEqual([approved.state, approved.policy], ['APPROVED', { id: 'all', version: 1 }]);
    const next = await requests.create(alice, { targetId, principal: 'ops', durationMinutes: 10, breakGlass: false }, audit(alice));
    assert.deepEqual([next.policy.version, next.approvalsRequired], [2, 3]);
  });

  test('a break-glass grant is reviewed once, not by its holder', async () => {
    const { requests, targetId, audit } = await setup(1);
    const bobsGlass = await requests.create(bob, { targetId, principal: 'ops', durationMinutes: 10, reason: 'outage', breakGlass: true }, audit(bob));
    await assert.rejects(requests.review(bob, bobsGlass.id, 'approve', 'fine by me', audit(bob)), /your own request/);
    const outcomes = await Promise.allSettled([requests.review(carol, bobsGlass.id, 'deny', 'no incident on record', audit(carol)), requests.review(carol, bobsGlass.id, 'approve', 'ok', audit(carol))]);
    assert.deepEqual(outcomes.map(statusOf).sort(), ['conflict', 'won']);
    const after = await requests.detail(bob, bobsGlass.id);
    assert.deepEqual([after.state, after.reviewNeeded, after.reviews.length], ['ACTIVE', false, 1]);
  });

  test('an event-stream ticket is redeemed once', async () => {
    const { db } = await setup(1);
    const now = Date.now();
    const { ticket } = await issueTicket(db, bob, now);
    const [first, second] = await Promise.allSettled([redeemTicket(db, ticket, now), redeemTicket(db, ticket, now)]);
    const won = [first, second].filter((o) => o.status === 'fulfilled');
    assert.equal(won.length, 1);
    assert.equal((won[0] as PromiseFulfilledResult<Principal>).value.subject, 'bob');
    assert.deepEqual([...(won[0] as PromiseFulfilledResult<Principal>).value.roles], ['admin', 'approver']);
  });

  test('a policy keeps every version, and an edit of a stale version is refused', async () => {
    const { db } = await setup(1);
    const rules = { name: 'x', priority: 1, enabled: true, match: {}, requesterGroups: ['a'], approverGroups: ['b'], approvalsRequired: 1, maxDurationMinutes: 5, reasonRequired: false, ticketRequired: false, autoApproveGroups: [], breakGlassGroups: [] };
    await db.transaction((tx) => createPolicy(tx, 'x', rules, 'erin', 1));
    await db.transaction((tx) => updatePolicy(tx, 'x', 1, { ...rules, maxDurationMinutes: 6 }, 'erin', 2));
    await assert.rejects(db.transaction((tx) => updatePolicy(tx, 'x', 1, rules, 'erin', 3)), /version 2, not 1/);
    assert.deepEqual((await db.all<{ version: number }>('SELECT version FROM jit_policy_versions WHERE id = ? ORDER BY version', ['x'])).map((r) => Number(r.version)), [1, 2]);
  });
});
