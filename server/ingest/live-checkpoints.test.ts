import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVICE_NOTE_KEY_NAME } from '../../shared/api/ingest.ts';
import { keyIdOf, nobleSigner, nobleSuite, parseNote, splitNotes, toBase64, verifyNoteSignature } from '../../shared/bundle/index.ts';
import { buildBundle, DEVICE_KEY, SESSION_KEY, sessionKeyName } from '../../shared/bundle/test-support.ts';
import { describeDatabases } from '../db/backends.test-support.ts';
import { acceptCheckpoint, heldCheckpoints, startLiveSession } from './live-checkpoints.ts';

const SERVICE = nobleSigner(new Uint8Array(32).fill(0x55));
const ENROLLED = { version: 1 as const, keys: [{ keyId: keyIdOf(nobleSuite, DEVICE_KEY.publicKey), publicKey: toBase64(DEVICE_KEY.publicKey), role: 'device' as const }] };

describeDatabases('live checkpoints', (open) => {
  test('a chain of checkpoints is held and cosigned in order; a replay is answered again; a fork is refused', async () => {
    const db = await open();
    const built = buildBundle({ sessionId: 'live-1' });
    const notes = splitNotes(Buffer.from(built.contents.notes).toString('utf8')).map((n) => n.note);
    const now = Date.now();
    await assert.rejects(
      db.transaction((tx) => startLiveSession(tx, { sessionId: 'live-1', owner: 'alice', certBytes: built.contents.sessionKeyCert, deviceCertBytes: undefined, trustRoot: { version: 1, keys: [] }, now })),
      /not enrolled/,
    );
    const started = await db.transaction((tx) => startLiveSession(tx, { sessionId: 'live-1', owner: 'alice', certBytes: built.contents.sessionKeyCert, deviceCertBytes: undefined, trustRoot: ENROLLED, now }));
    assert.equal(started.created, true);
    await assert.rejects(
      db.transaction((tx) => startLiveSession(tx, { sessionId: 'live-2', owner: 'alice', certBytes: built.contents.sessionKeyCert, deviceCertBytes: undefined, trustRoot: ENROLLED, now })),
      /is for session live-1/,
    );
    for (const note of notes) {
      const { checkpoint, created } = await db.transaction((tx) => acceptCheckpoint(tx, { sessionId: 'live-1', caller: 'alice', note, service: SERVICE, now }));
      assert.equal(created, true);
      const parsed = parseNote(checkpoint.cosigned, { entry: 't', line: 1, label: 'n' });
      assert.ok(verifyNoteSignature(nobleSuite, parsed, SERVICE_NOTE_KEY_NAME, SERVICE.publicKey));
      assert.ok(verifyNoteSignature(nobleSuite, parsed, sessionKeyName('live-1'), SESSION_KEY.publicKey));
    }
    const again = await db.transaction((tx) => acceptCheckpoint(tx, { sessionId: 'live-1', caller: 'alice', note: notes[1]!, service: SERVICE, now }));
    assert.equal(again.created, false);
    assert.equal(again.checkpoint.index, 2);
    const held = await heldCheckpoints(db, 'live-1');
    assert.deepEqual(held.map((h) => h.index), notes.map((_, i) => i + 1));
    assert.equal(held.at(-1)?.kind, 'seal');
    await assert.rejects(db.transaction((tx) => acceptCheckpoint(tx, { sessionId: 'live-1', caller: 'bob', note: notes[0]!, service: SERVICE, now })), /belongs to someone else/);
  });
});
