/**
 * Two service instances on one PostgreSQL database, as behind a load balancer: an event made on
 * one reaches the event streams of the other (LISTEN/NOTIFY), and either can resume a stream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { postgresUnavailable, startPostgres, type RunningPostgres } from '../../test/support/postgres.ts';
import type { AccessRequestBody, JitEventBody, TargetBody } from '../../shared/api/jit.ts';
import { startHarness, type Harness } from '../service.test-support.ts';
import { LISTENER_NAME } from './events.ts';
import { isEvent, openSse } from './sse.test-support.ts';

describe('JIT events across two instances on one PostgreSQL', { skip: postgresUnavailable() }, () => {
  let postgres: RunningPostgres;
  let a: Harness;
  let b: Harness;
  let url: string;
  let targetId: string;
  before(async () => {
    postgres = await startPostgres();
    url = await postgres.freshDatabase();
    a = await startHarness({ database: { kind: 'postgres', url, maxConnections: 10 } });
    b = await startHarness({ database: { kind: 'postgres', url, maxConnections: 10 } });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await postgres?.stop();
  });

  test('an approval on instance B reaches the requester’s stream on instance A, and B resumes it', async () => {
    // Each instance trusts its own dev IdP here; the users' subjects are the same on both.
    const [erinB, bobB, aliceA, aliceB] = await Promise.all([b.as('erin'), b.as('bob'), a.as('alice'), b.as('alice')]);
    const target = (await (await erinB.post('/v1/jit/targets', { name: 'db', host: 'db.test', principals: ['ops'], environment: 'prod' })).json()) as TargetBody;
    targetId = target.id;
    const policy = await erinB.post('/v1/jit/policies', { id: 'all', rules: { name: 'all', requesterGroups: ['custody-admins'], approverGroups: ['custody-approvers'], maxDurationMinutes: 60, reasonRequired: false } });
    assert.equal(policy.status, 201);

    const { ticket } = (await (await aliceA.post('/v1/jit/events/ticket', {})).json()) as { ticket: string };
    const onA = await openSse(`${new URL('/v1/jit/events', a.service.url)}?ticket=${ticket}`);
    await onA.next((f) => f.comment === 'connected');
    const filed = (await (await aliceA.post('/v1/jit/requests', { targetId: target.id, principal: 'ops', durationMinutes: 10 })).json()) as AccessRequestBody;
    const created = await onA.next(isEvent);
    const approval = await bobB.post(`/v1/jit/requests/${filed.id}/reviews`, { decision: 'approve', reason: 'fine' });
    assert.equal(approval.status, 200);
    const approved = await onA.next(isEvent);
    const body = JSON.parse(approved.data!) as JitEventBody;
    assert.deepEqual([body.type, body.requestId, body.state, Number(approved.id)], ['request.approved', filed.id, 'APPROVED', Number(created.id) + 1]);
    onA.close();

    // The load balancer sends the reconnect to B: it has A's events too.
    const onB = await openSse(new URL('/v1/jit/events', b.service.url).toString(), { authorization: `Bearer ${aliceB.tokens.accessToken}`, 'last-event-id': created.id! });
    const resumed = await onB.next(isEvent);
    assert.deepEqual([resumed.id, (JSON.parse(resumed.data!) as JitEventBody).type], [approved.id, 'request.approved']);
    onB.close();
  });

  test('when the listening connection drops, open streams are told to resync, and events flow again once it is back', async () => {
    const [aliceA, aliceB] = await Promise.all([a.as('alice'), b.as('alice')]);
    const stream = await openSse(new URL('/v1/jit/events', a.service.url).toString(), { authorization: `Bearer ${aliceA.tokens.accessToken}` });
    await stream.next((f) => f.comment === 'connected');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const listeners = async (): Promise<number> =>
        Number(
          (await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND query LIKE 'LISTEN%'", [LISTENER_NAME]))
            .rows[0]!.n,
        );
      assert.equal(await listeners(), 2);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [LISTENER_NAME]);
      assert.equal((await stream.next((f) => f.event !== undefined || isEvent(f))).event, 'resync');
      while ((await listeners()) < 2) await new Promise((resolve) => setTimeout(resolve, 50));
      const filed = (await (await aliceB.post('/v1/jit/requests', { targetId, principal: 'ops', durationMinutes: 10 })).json()) as AccessRequestBody;
      assert.equal((JSON.parse((await stream.next(isEvent)).data!) as JitEventBody).requestId, filed.id);
    } finally {
      await admin.end();
      stream.close();
    }
  });
});
