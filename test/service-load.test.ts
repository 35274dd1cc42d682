/**
 * A bounded load test of the central service on loopback, as deployed (every module, nothing
 * replaced), on SQLite and on PostgreSQL: 50 concurrent clients each file a JIT request, have it
 * approved by an approver, start the grant, and upload a recording from their enrolled device.
 *
 * Then it checks that nothing was lost: every request is ACTIVE with its one approval, every
 * upload got a receipt that verifies offline, every receipt names an object the service
 * stores with exactly that hash, every stored object verifies as intact and trusted against the
 * public trust root, the search finds every session, and the audit chain is intact.
 *
 * Bounded: 50 clients, one flow each, small bundles. Nothing is timed here (see
 * `npm run bench -- jit` and `-- ingest` for speed).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { IngestResultSchema, verifyReceipt, type Receipt } from '../shared/api/ingest.ts';
import { TrustRootSchema, utf8, verifyBundle, type TrustRoot } from '../shared/bundle/index.ts';
import { buildBundle, repack } from '../shared/bundle/test-support.ts';
import type { ServiceConfig } from '../server/config.ts';
import { TusClient } from '../server/ingest/tus.test-support.ts';
import { enrollTestDevice, startHarness, type Caller, type Harness } from '../server/service.test-support.ts';
import { postgresUnavailable, startPostgres, type RunningPostgres } from './support/postgres.ts';

const CLIENTS = 50;
/** Requesters (admins) and, for each, an approver who is not them. */
const REQUESTERS = ['alice', 'bob'] as const;
const APPROVER_OF: Record<(typeof REQUESTERS)[number], string> = { alice: 'bob', bob: 'carol' };

async function json<T>(response: Response, what: string): Promise<T> {
  if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

function loadSuite(name: string, database: () => Promise<ServiceConfig['database'] | undefined>, skip?: string): void {
  describe(`service under load: ${CLIENTS} concurrent clients (${name})`, { skip }, () => {
    let harness: Harness;
    before(async () => {
      const db = await database();
      harness = await startHarness(db === undefined ? {} : { database: db });
    });
    after(() => harness?.stop());

    test('file, approve, start and upload at once: nothing lost, every receipt matches a stored object that verifies', async () => {
      const users = Object.fromEntries(await Promise.all(['alice', 'bob', 'carol', 'dave', 'erin'].map(async (u) => [u, await harness.as(u)] as const))) as Record<string, Caller>;
      const trustRoot: TrustRoot = TrustRootSchema.parse(await (await harness.anonymous().get('/v1/trust-root')).json());
      const devices = { alice: await enrollTestDevice(users['alice']!, 0x41), bob: await enrollTestDevice(users['bob']!, 0x42) };
      const target = await json<{ id: string }>(await users['erin']!.post('/v1/jit/targets', { name: 'load-host', host: 'load.test', port: 22, principals: ['ops'], environment: 'staging' }), 'target');
      await json(
        await users['erin']!.post('/v1/jit/policies', { id: 'load', rules: { name: 'load', requesterGroups: ['custody-admins'], approverGroups: ['custody-approvers'], maxDurationMinutes: 60, reasonRequired: true } }),
        'policy',
      );

      const runId = Date.now().toString(36);
      const outcomes = await Promise.all(
        Array.from({ length: CLIENTS }, async (_, client) => {
          const requesterName = REQUESTERS[client % REQUESTERS.length]!;
          const requester = users[requesterName]!;
          const approver = users[APPROVER_OF[requesterName]]!;
          const filed = await json<{ id: string; state: string }>(
            await requester.post('/v1/jit/requests', { targetId: target.id, principal: 'ops', durationMinutes: 30, reason: `load client ${client}` }),
            `client ${client} file`,
          );
          await json(await approver.post(`/v1/jit/requests/${filed.id}/reviews`, { decision: 'approve', reason: `ok ${client}` }), `client ${client} approve`);
          await json(await requester.post(`/v1/jit/requests/${filed.id}/start`, {}), `client ${client} start`);

          const sessionId = `load-${runId}-${client}`;
          const device = devices[requesterName];
          const built = buildBundle({ sessionId, startedAt: Date.now(), deviceKey: device.key, predicate: { metadata: { grant: filed.id } } });
          const bytes = repack({ ...built.contents, deviceCert: utf8(device.certificate) }, device.key);
          // Small chunks, so that the 50 uploads interleave PATCH by PATCH.
          const response = await new TusClient(harness.service.url, requester.tokens.accessToken).upload(bytes, sessionId, 16 * 1024);
          const result = IngestResultSchema.parse(await json(response, `client ${client} upload`));
          return { client, requesterName, requestId: filed.id, sessionId, uploadedSha256: createHash('sha256').update(bytes).digest('hex'), result };
        }),
      );

      // Every request: ACTIVE, approved once, by the right approver.
      for (const requesterName of REQUESTERS) {
        const mine = await json<{ requests: { id: string; state: string; reviews: { reviewer: string }[] }[] }>(await users[requesterName]!.get('/v1/jit/requests'), 'my requests');
        for (const outcome of outcomes.filter((o) => o.requesterName === requesterName)) {
          const request = mine.requests.find((r) => r.id === outcome.requestId);
          assert.ok(request, `request of client ${outcome.client} is missing`);
          assert.equal(request.state, 'ACTIVE');
          assert.deepEqual(request.reviews.map((r) => r.reviewer), [APPROVER_OF[requesterName]]);
        }
      }

      // Every receipt: signed by the service, for the bundle as uploaded, naming an object that is
      // stored with exactly its hash and verifies as intact and trusted.
      const auditor = users['dave']!;
      const receipts: Receipt[] = [];
      for (const outcome of outcomes) {
        const receipt = verifyReceipt(outcome.result.envelope, trustRoot);
        receipts.push(receipt);
        assert.equal(receipt.sessionId, outcome.sessionId);
        assert.equal(receipt.uploadedSha256, outcome.uploadedSha256);
        assert.equal(receipt.verdict, 'intact');
        const stored = new Uint8Array(await (await auditor.get(`/v1/sessions/${outcome.sessionId}/bundle`)).arrayBuffer());
        assert.equal(stored.length, receipt.size, `client ${outcome.client}: stored size`);
        assert.equal(createHash('sha256').update(stored).digest('hex'), receipt.sha256, `client ${outcome.client}: stored hash`);
        const report = verifyBundle(stored, { trustRoot });
        assert.equal(report.status, 'intact', `client ${outcome.client}: ${report.findings.map((f) => f.message).join('; ')}`);
        assert.equal(report.signer?.trustedVia, 'org-root');
        assert.equal(report.signer?.subject?.sub, outcome.requesterName);
      }
      assert.equal(new Set(receipts.map((r) => r.storageKey)).size, CLIENTS, 'one stored object per session');

      // The archive knows every session, each under its owner; the audit chain held.
      const found = await json<{ sessions: { sessionId: string; owner: string }[] }>(await auditor.get('/v1/sessions?limit=500'), 'search');
      for (const outcome of outcomes) {
        const session = found.sessions.find((s) => s.sessionId === outcome.sessionId);
        assert.ok(session, `session of client ${outcome.client} is not in the archive`);
        assert.equal(session.owner, outcome.requesterName);
      }
      // And finds a session by the grant it ran under.
      const byGrant = await json<{ sessions: { sessionId: string }[] }>(await auditor.get(`/v1/sessions?grantId=${outcomes[7]!.requestId}`), 'search by grant');
      assert.deepEqual(byGrant.sessions.map((s) => s.sessionId), [outcomes[7]!.sessionId]);
      const chain = await json<{ ok: boolean; entries: number }>(await auditor.get('/v1/audit/verify'), 'audit verify');
      assert.equal(chain.ok, true);
      // At least: file, approve, start and ingest for each client.
      assert.ok(chain.entries >= 4 * CLIENTS, `${chain.entries} audit entries for ${CLIENTS} clients`);
    });
  });
}

loadSuite('SQLite', async () => undefined);

let postgres: RunningPostgres | undefined;
after(async () => postgres?.stop());
loadSuite(
  'PostgreSQL',
  async () => {
    postgres = await startPostgres();
    return { kind: 'postgres', url: await postgres.freshDatabase(), maxConnections: 20 };
  },
  postgresUnavailable(),
);
