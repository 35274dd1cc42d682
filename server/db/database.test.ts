import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConflictError, numberPlaceholders } from './database.ts';
import { describeDatabases } from './backends.test-support.ts';
import { migrate, type Migration } from './migrate.ts';
import { MIGRATIONS } from './migrations.ts';

test('placeholders are numbered outside literals and comments', () => {
  assert.equal(numberPlaceholders('SELECT ? , \'?\', "a?b", ? -- what?\n, ?'), 'SELECT $1 , \'?\', "a?b", $2 -- what?\n, $3');
});

describeDatabases('database', (open) => {
  test('rows in, rows out: numbers as numbers, text as text, null as null', async () => {
    const db = await open();
    await db.exec('CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, at BIGINT)');
    await db.run('INSERT INTO t (id, name, at) VALUES (?, ?, ?)', [1, 'a?b', 1_764_000_000_000]);
    await db.run('INSERT INTO t (id, name, at) VALUES (?, ?, ?)', [2, null, 0]);
    assert.deepEqual({ ...(await db.get<object>('SELECT id, name, at FROM t WHERE id = ?', [1])) }, { id: 1, name: 'a?b', at: 1_764_000_000_000 });
    assert.deepEqual((await db.all<{ id: number }>('SELECT id FROM t ORDER BY id')).map((r) => r.id), [1, 2]);
    assert.equal(await db.get('SELECT id FROM t WHERE id = ?', [3]), undefined);
    assert.deepEqual(await db.run('UPDATE t SET name = ? WHERE id >= ?', ['x', 1]), { changes: 2 });
  });

  test('a duplicate key is a ConflictError', async () => {
    const db = await open();
    await db.exec('CREATE TABLE u (id TEXT PRIMARY KEY)');
    await db.run('INSERT INTO u (id) VALUES (?)', ['one']);
    await assert.rejects(db.run('INSERT INTO u (id) VALUES (?)', ['one']), ConflictError);
  });

  test('a transaction that throws leaves nothing behind; one that resolves commits', async () => {
    const db = await open();
    await db.exec('CREATE TABLE v (id BIGINT PRIMARY KEY)');
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO v (id) VALUES (?)', [1]);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal((await db.all('SELECT id FROM v')).length, 0);
    await db.transaction(async (tx) => tx.run('INSERT INTO v (id) VALUES (?)', [2]));
    assert.equal((await db.all('SELECT id FROM v')).length, 1);
  });

  test('concurrent read-modify-write transactions that take the lock lose no update', async () => {
    const db = await open();
    await db.exec('CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)');
    await db.run('INSERT INTO counter (id, n) VALUES (1, 0)');
    await Promise.all(
      Array.from({ length: 25 }, () =>
        db.transaction(async (tx) => {
          await tx.lock('counter:1');
          const row = await tx.get<{ n: number }>('SELECT n FROM counter WHERE id = 1');
          await new Promise((resolve) => setTimeout(resolve, 1)); // let others interleave
          await tx.run('UPDATE counter SET n = ? WHERE id = 1', [row!.n + 1]);
        }),
      ),
    );
    assert.equal((await db.get<{ n: number }>('SELECT n FROM counter WHERE id = 1'))!.n, 25);
  });

  test('migrations apply once, in order; a database newer than the code is refused', async () => {
    const db = await open({ migrated: false });
    const first = await migrate(db, MIGRATIONS);
    assert.deepEqual(first.applied, MIGRATIONS.map((m) => m.version));
    assert.deepEqual((await migrate(db, MIGRATIONS)).applied, []);
    const extra: Migration = { version: 99_999, name: 'later', up: 'CREATE TABLE later_table (id BIGINT PRIMARY KEY)' };
    assert.deepEqual((await migrate(db, [...MIGRATIONS, extra])).applied, [99_999]);
    await assert.rejects(migrate(db, MIGRATIONS), /schema version 99999, newer than this service knows/);
    await assert.rejects(migrate(db, [extra, ...MIGRATIONS]), /out of order/);
  });

  test('a failing migration is reported by number and name, and leaves no half-applied schema', async () => {
    const db = await open({ migrated: false });
    const broken: Migration = { version: 99_998, name: 'broken', up: 'CREATE TABLE half (id BIGINT PRIMARY KEY); CREATE TABLE half (id BIGINT)' };
    await assert.rejects(migrate(db, [...MIGRATIONS, broken]), /migration 99998 \(broken\) failed/);
    await assert.rejects(db.all('SELECT * FROM half'));
  });
});
