import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeDatabases } from '../db/backends.test-support.ts';
import { appendAudit, GENESIS_HASH, readAudit, verifyChain } from './audit-log.ts';

describeDatabases('audit log', (open) => {
  test('entries chain from the genesis hash, numbered without gaps, even when appended at once', async () => {
    const db = await open();
    assert.deepEqual(await verifyChain(db), { ok: true, entries: 0, head: GENESIS_HASH });
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        db.transaction((tx) => appendAudit(tx, { actor: `user-${i % 3}`, device: 'dev-1', action: 'jit.request.create', target: `req-${i}`, details: { i } }, 1_000 + i)),
      ),
    );
    const report = await verifyChain(db);
    assert.equal(report.ok, true);
    assert.equal(report.entries, 30);
    const entries = await readAudit(db, 0, 100);
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(entries[0]!.prevHash, GENESIS_HASH);
    for (let i = 1; i < entries.length; i++) assert.equal(entries[i]!.prevHash, entries[i - 1]!.hash);
  });

  test('an entry rolled back with its change is not in the chain', async () => {
    const db = await open();
    await db.transaction((tx) => appendAudit(tx, { actor: 'a', action: 'x.one' }, 1));
    await assert.rejects(
      db.transaction(async (tx) => {
        await appendAudit(tx, { actor: 'a', action: 'x.two' }, 2);
        throw new Error('the change failed');
      }),
    );
    await db.transaction((tx) => appendAudit(tx, { actor: 'a', action: 'x.three' }, 3));
    assert.deepEqual((await readAudit(db, 0, 10)).map((e) => [e.seq, e.action]), [[1, 'x.one'], [2, 'x.three']]);
    assert.equal((await verifyChain(db)).ok, true);
  });

  test('an edited, deleted or re-hashed entry is found, by number', async () => {
    const db = await open();
    for (let i = 1; i <= 5; i++) await db.transaction((tx) => appendAudit(tx, { actor: 'alice', action: 'jit.request.approve', target: `r${i}`, details: { reason: 'ok' } }, i));

    await db.run('UPDATE audit_log SET details = ? WHERE seq = 3', [JSON.stringify({ reason: 'changed' })]);
    assert.deepEqual(await verifyChain(db), { ok: false, entries: 2, brokenAt: 3, reason: 'entry 3 was changed after it was written (its hash does not match its fields)' });

    // Re-hashing the edited entry does not help: the next entry names the old hash.
    const { entryHash } = await import('./audit-log.ts');
    const [three] = await readAudit(db, 2, 1);
    await db.run('UPDATE audit_log SET hash = ? WHERE seq = 3', [entryHash(three!)]);
    assert.deepEqual(await verifyChain(db), { ok: false, entries: 3, brokenAt: 4, reason: 'entry 4 does not follow entry 3 (its predecessor hash differs)' });

    await db.run('DELETE FROM audit_log WHERE seq >= 3');
    await db.transaction((tx) => appendAudit(tx, { actor: 'mallory', action: 'x' }, 9));
    assert.equal((await verifyChain(db)).ok, true, 'a truncated log that goes on is a valid shorter chain: the head hash is what a copy elsewhere pins');
    await db.run('DELETE FROM audit_log WHERE seq = 2');
    assert.deepEqual(await verifyChain(db), { ok: false, entries: 1, brokenAt: 2, reason: 'entry 2 is missing (the next is 3)' });
  });
});
