import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Receipt } from '../../shared/api/ingest.ts';
import { serializeEvent, serializeHeader } from '../../shared/bundle/asciicast.ts';
import { defaultHeader } from '../../shared/bundle/test-support.ts';
import { describeDatabases } from '../db/backends.test-support.ts';
import { expiredSessions, findStoredSession, insertQuarantine, insertStoredSession, listQuarantine, markExpired, searchSessions, setLegalHold, TEXT_CHUNK, textChunks, type NewStoredSession } from './archive-store.ts';
import { plainText, SessionTextCollector, sessionText } from './session-text.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);

function stored(sessionId: string, overrides: Partial<NewStoredSession> = {}): NewStoredSession {
  const receipt: Receipt = {
    formatVersion: 1,
    sessionId,
    sha256: 'a'.repeat(64),
    size: 1234,
    uploadedSha256: 'b'.repeat(64),
    storedAt: T0 + DAY,
    storageKey: `recordings/2026/11/${sessionId}.custody`,
    tree: { size: 10, root: 'AAAA' },
    verdict: 'intact',
    cosignedCheckpoints: 0,
    serviceKeyId: 'c'.repeat(64),
  };
  return { sessionId, owner: 'alice', target: 'db-prod-1', grantId: 'grant-1', startedAt: T0, endedAt: T0 + 60_000, receipt, envelope: '{}', retainUntil: T0 + 30 * DAY, text: '', ...overrides };
}

test('session text: output events only, escape sequences and control characters removed', () => {
  const cast = [
    serializeHeader(defaultHeader()),
    serializeEvent({ interval: 0.1, code: 'i', data: 'typed-only-word\r' }),
    serializeEvent({ interval: 0.1, code: 'o', data: '\x1b[1;32mkubectl\x1b[0m get \x1b]0;title\x07pods\r\n' }),
    serializeEvent({ interval: 0.1, code: 'm', data: 'redacted:github-pat' }),
    serializeEvent({ interval: 0.1, code: 'x', data: '0' }),
  ].join('\n') + '\n';
  const text = sessionText(Buffer.from(cast));
  assert.equal(text, 'kubectl get pods\n');
  assert.equal(plainText('a\x07b\x1b[2Jc\r\nd'), 'abc\nd');
});

test('the collector cleans and cuts output as it comes, giving exactly textChunks(plainText(all output))', () => {
  // Escape sequences, CR LF pairs and controls cut across events at every place, and flushes
  // every few hundred characters, so that each cut lands somewhere awkward at least once.
  const pieces = ['\x1b[1;32m', 'kubectl', ' get ', '\x1b]0;ti\ntle\x07', '\x1b]2;x\x1b\\', 'pods\r\n', '\r', '\n', '\x1b(B', '\x07', 'café ', '\x1b', '[0m', '\r\r\n', 'x'.repeat(40), '\x1b[', '2J', ' '];
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let output = '';
  while (output.length < 200_000) output += pieces[next(pieces.length)];
  for (const flushAt of [64, 1000, 1024 * 1024]) {
    const collector = new SessionTextCollector(flushAt);
    for (let at = 0; at < output.length; ) {
      const end = Math.min(output.length, at + 1 + next(300));
      collector.onEvent({ interval: 0, code: 'o', data: output.slice(at, end) });
      collector.onEvent({ interval: 0, code: 'i', data: 'typed-only-word\x1b' });
      at = end;
    }
    const chunks = collector.chunks();
    assert.deepEqual(chunks, textChunks(plainText(output)), `flushing at ${flushAt} characters`);
    assert.ok(chunks.length > 1);
  }
  // The awkward places on purpose: a CR whose LF follows an escape sequence in the next event; a
  // sequence cut in two; an OSC ended by ST (ESC \\) in the next event.
  for (const events of [['a\r', '\x1b[0m\nb'], ['a\x1b[3', '1mb\r', '\nc'], ['a\x1b]0;t', 'x\x1b', '\\b']]) {
    const collector = new SessionTextCollector(1);
    for (const data of events) collector.onEvent({ interval: 0, code: 'o', data });
    assert.deepEqual(collector.chunks(), [plainText(events.join(''))], JSON.stringify(events));
  }
});

test('text is cut into chunks at whitespace, never inside a word, and nothing is lost', () => {
  const text = Array.from({ length: 5000 }, (_, i) => `word${i}`).join(' ');
  const chunks = textChunks(text, 1000);
  assert.equal(chunks.join(''), text);
  assert.ok(chunks.every((c) => c.length <= 1000));
  assert.ok(chunks.slice(0, -1).every((c) => c.endsWith(' ')), 'each chunk ends after a space');
  assert.deepEqual(textChunks('x'.repeat(2500), 1000).map((c) => c.length), [1000, 1000, 500], 'a run without whitespace is cut where it must be');
});

describeDatabases('archive index', (open) => {
  test('a long session (megabytes of distinct words) is indexed in full, and words far apart are found together', async () => {
    const db = await open();
    // Distinct words: the worst case for a PostgreSQL tsvector, which holds at most 1 MiB.
    const text = `first-command ${Array.from({ length: 300_000 }, (_, i) => `w${i.toString(36)}x`).join(' ')} last-command\n`;
    assert.ok(text.length > 3 * TEXT_CHUNK * 5);
    await db.transaction((tx) => insertStoredSession(tx, stored('long', { text })));
    const found = async (q: string): Promise<string[]> => (await searchSessions(db, { text: q, limit: 10 })).map((s) => s.sessionId);
    assert.deepEqual(await found('last'), ['long']);
    assert.deepEqual(await found('first last'), ['long'], 'words in different chunks');
    assert.deepEqual(await found(`w${(150_000).toString(36)}x`), ['long']);
    assert.deepEqual(await found('first absent'), []);
  });

  test('search by owner, target, grant, start time and full text of the output; quoting keeps query syntax out', async () => {
    const db = await open();
    await db.transaction(async (tx) => {
      await insertStoredSession(tx, stored('s1', { text: 'kubectl get pods -n payments\nNAME READY\n' }));
      await insertStoredSession(tx, stored('s2', { owner: 'bob', target: 'web-1', grantId: 'grant-2', startedAt: T0 + DAY, text: 'sudo systemctl restart nginx\n' }));
      await insertStoredSession(tx, stored('s3', { owner: 'bob', target: 'db-prod-1', grantId: null, startedAt: T0 + 2 * DAY, text: 'psql -c "select 1"\nkubectl logs api-7\n' }));
    });
    const ids = async (q: Parameters<typeof searchSessions>[1]): Promise<string[]> => (await searchSessions(db, q)).map((s) => s.sessionId);
    assert.deepEqual(await ids({ limit: 10 }), ['s3', 's2', 's1'], 'newest first');
    assert.deepEqual(await ids({ owner: 'bob', limit: 10 }), ['s3', 's2']);
    assert.deepEqual(await ids({ target: 'db-prod-1', limit: 10 }), ['s3', 's1']);
    assert.deepEqual(await ids({ grantId: 'grant-2', limit: 10 }), ['s2']);
    assert.deepEqual(await ids({ from: T0 + DAY, to: T0 + 2 * DAY, limit: 10 }), ['s2']);
    assert.deepEqual(await ids({ text: 'kubectl', limit: 10 }), ['s3', 's1']);
    assert.deepEqual(await ids({ text: 'kubectl payments', limit: 10 }), ['s1'], 'every word must appear');
    assert.deepEqual(await ids({ text: 'systemctl', owner: 'alice', limit: 10 }), []);
    assert.deepEqual(await ids({ text: 'NGINX', limit: 10 }), ['s2'], 'case does not matter');
    assert.deepEqual(await ids({ text: 'nginx" OR "kubectl', limit: 10 }), [], 'query syntax is read as words, all required');
    assert.deepEqual(await ids({ text: '*) NEAR(', limit: 10 }), [], 'operators alone find nothing and do not fail');
    assert.deepEqual(await ids({ limit: 1 }), ['s3']);
  });

  test('legal hold and retention: expired rows are listed unless held; marking one expired keeps its row and drops its text', async () => {
    const db = await open();
    await db.transaction(async (tx) => {
      await insertStoredSession(tx, stored('old', { retainUntil: T0 + DAY, text: 'findme\n' }));
      await insertStoredSession(tx, stored('held', { retainUntil: T0 + DAY }));
      await insertStoredSession(tx, stored('young', { retainUntil: T0 + 90 * DAY }));
      await setLegalHold(tx, 'held', true);
    });
    assert.deepEqual((await expiredSessions(db, T0 + 2 * DAY, 10)).map((s) => s.sessionId), ['old']);
    assert.equal((await findStoredSession(db, 'held'))?.legalHold, true);
    await db.transaction((tx) => markExpired(tx, 'old', T0 + 2 * DAY));
    assert.equal((await findStoredSession(db, 'old'))?.expiredAt, T0 + 2 * DAY);
    assert.deepEqual(await expiredSessions(db, T0 + 2 * DAY, 10), []);
    assert.deepEqual(await searchSessions(db, { text: 'findme', limit: 10 }), []);
    await db.transaction((tx) => setLegalHold(tx, 'held', false));
    assert.deepEqual((await expiredSessions(db, T0 + 2 * DAY, 10)).map((s) => s.sessionId), ['held']);
  });

  test('a stored session id is unique, and the same quarantined object is recorded once', async () => {
    const db = await open();
    await db.transaction((tx) => insertStoredSession(tx, stored('dup')));
    await assert.rejects(db.transaction((tx) => insertStoredSession(tx, stored('dup'))));
    const entry = { sessionId: 'q1', uploader: 'alice', sha256: 'd'.repeat(64), size: 9, storageKey: `quarantine/q1/${'d'.repeat(64)}.custody`, reason: 'tampered', report: '{}', at: T0 };
    assert.equal(await db.transaction((tx) => insertQuarantine(tx, entry)), true);
    assert.equal(await db.transaction((tx) => insertQuarantine(tx, entry)), false);
    assert.deepEqual((await listQuarantine(db, 10)).map((e) => [e.sessionId, e.reason]), [['q1', 'tampered']]);
  });
});
