import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fromBase64, toBase64, toHex, utf8 } from './bytes.ts';
import { nobleSuite } from './crypto.ts';
import type { FormatError } from './errors.ts';
import { catchFormatError } from './test-support.ts';
import {
  NOTES_ENTRY,
  formatCheckpoint,
  noteKeyHash,
  originForSession,
  parseCheckpoint,
  parseNote,
  signNote,
  splitNotes,
  verifyNoteSignature,
  type CheckpointBody,
} from './note.ts';
import { ORG_KEY, SESSION_KEY, STRANGER_KEY } from './test-support.ts';

const suite = nobleSuite;
const KEY_NAME = 'custody-session-sess-0001';
const where = (line = 1, label = 'checkpoint 1') => ({ entry: NOTES_ENTRY, line, label });

function body(overrides: Partial<CheckpointBody> = {}): CheckpointBody {
  return {
    origin: originForSession('sess-0001'),
    size: 42,
    root: new Uint8Array(32).fill(7),
    kind: 'interval',
    time: 1_735_689_600_123,
    prev: new Uint8Array(32).fill(9),
    ...overrides,
  };
}

function assertNoteError(fn: () => unknown, pattern: RegExp, line?: number): FormatError {
  const caught = catchFormatError(fn);
  assert.equal(caught.code, 'note-malformed');
  assert.equal(caught.location.entry, NOTES_ENTRY);
  assert.match(caught.message, pattern);
  if (line !== undefined) assert.equal(caught.location.line, line);
  return caught;
}

describe('signed notes (C2SP signed-note, Ed25519)', () => {
  test('sign, parse and verify round trip a checkpoint', () => {
    const text = formatCheckpoint(body());
    const note = signNote(suite, text, KEY_NAME, SESSION_KEY);
    assert.ok(note.startsWith(`${text}\n\u2014 ${KEY_NAME} `), note);
    assert.ok(note.endsWith('\n'));
    const parsed = parseNote(note, where());
    assert.equal(parsed.text, text);
    assert.equal(parsed.signatures.length, 1);
    assert.equal(parsed.signatures[0]!.keyName, KEY_NAME);
    assert.equal(parsed.signatures[0]!.signature.length, 64);
    assert.ok(verifyNoteSignature(suite, parsed, KEY_NAME, SESSION_KEY.publicKey));
    const round = parseCheckpoint(parsed.text, where());
    assert.deepEqual(round, body());
  });

  test('the key hash is SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], and leads the signature blob', () => {
    const expected = createHash('sha256').update(KEY_NAME).update(Buffer.from([0x0a, 0x01])).update(SESSION_KEY.publicKey).digest().subarray(0, 4);
    assert.equal(toHex(noteKeyHash(suite, KEY_NAME, SESSION_KEY.publicKey)), expected.toString('hex'));
    const note = signNote(suite, formatCheckpoint(body()), KEY_NAME, SESSION_KEY);
    const sigLine = note.split('\n').at(-2)!;
    const blob = fromBase64(sigLine.slice(`\u2014 ${KEY_NAME} `.length))!;
    assert.equal(blob.length, 4 + 64);
    assert.equal(toHex(blob.subarray(0, 4)), expected.toString('hex'));
    // and the rest is a plain Ed25519 signature over the text bytes
    assert.ok(suite.ed25519Verify(SESSION_KEY.publicKey, utf8(formatCheckpoint(body())), blob.subarray(4)));
  });

  test('changing any one character of the signed text fails verification', () => {
    const text = formatCheckpoint(body());
    const note = signNote(suite, text, KEY_NAME, SESSION_KEY);
    for (let i = 0; i < text.length; i++) {
      if (text[i] === '\n') continue; // keep the note's shape; only the content changes
      const swapped = text[i] === 'A' ? 'B' : 'A';
      const changed = note.slice(0, i) + swapped + note.slice(i + 1);
      const parsed = parseNote(changed, where());
      assert.ok(!verifyNoteSignature(suite, parsed, KEY_NAME, SESSION_KEY.publicKey), `position ${i} changed and still verifies`);
    }
  });

  test('verification fails for the wrong key name, the wrong key, or a renamed signature line', () => {
    const note = signNote(suite, formatCheckpoint(body()), KEY_NAME, SESSION_KEY);
    const parsed = parseNote(note, where());
    assert.ok(!verifyNoteSignature(suite, parsed, 'custody-session-other', SESSION_KEY.publicKey));
    assert.ok(!verifyNoteSignature(suite, parsed, KEY_NAME, STRANGER_KEY.publicKey));
    // The name is bound by the key hash: relabelling the signature line does not move it to another name.
    const renamed = parseNote(note.replace(`\u2014 ${KEY_NAME} `, '\u2014 custody-session-other '), where());
    assert.ok(!verifyNoteSignature(suite, renamed, 'custody-session-other', SESSION_KEY.publicKey));
  });

  test('a note with several signatures verifies for each signer', () => {
    const text = formatCheckpoint(body());
    const bySession = signNote(suite, text, KEY_NAME, SESSION_KEY);
    const byService = signNote(suite, text, 'custody-service', ORG_KEY);
    const cosigned = bySession + byService.slice(text.length + 1);
    const parsed = parseNote(cosigned, where());
    assert.equal(parsed.signatures.length, 2);
    assert.ok(verifyNoteSignature(suite, parsed, KEY_NAME, SESSION_KEY.publicKey));
    assert.ok(verifyNoteSignature(suite, parsed, 'custody-service', ORG_KEY.publicKey));
  });

  test('signNote refuses key names with spaces, "+" or "\u2014", and text that is not newline-terminated or has a blank line', () => {
    for (const name of ['a b', 'a+b', 'a\u2014b', '']) assert.throws(() => signNote(suite, 'x\n', name, SESSION_KEY), /key name/, name);
    assert.throws(() => signNote(suite, 'x', KEY_NAME, SESSION_KEY), /newline/);
    assert.throws(() => signNote(suite, 'x\n\ny\n', KEY_NAME, SESSION_KEY), /blank line/);
  });

  test('parseNote rejects malformed notes with a message naming the checkpoint and line', () => {
    const note = signNote(suite, formatCheckpoint(body()), KEY_NAME, SESSION_KEY);
    const at = where(19, 'checkpoint 3');
    const cases: [string, RegExp][] = [
      [formatCheckpoint(body()), /has no blank line before its signatures/],
      [note.slice(0, -1), /does not end in a newline/],
      [note.replace('\u2014 ', '- '), /does not start with/],
      [note.replace(`\u2014 ${KEY_NAME} `, '\u2014 '), /without a key name|invalid key name|not valid base64/],
      [note.replace(/ [A-Za-z0-9+/=]+\n$/, ' not*base64\n'), /not valid base64/],
      [note.replace(/ [A-Za-z0-9+/=]+\n$/, ' AAAA\n'), /not valid base64/],
    ];
    for (const [bad, pattern] of cases) {
      const error = assertNoteError(() => parseNote(bad, at), pattern, 19);
      assert.match(error.message, /^recording\/checkpoints\.notes checkpoint 3 \(line 19\) /);
    }
  });
});

describe('splitNotes (checkpoints.notes)', () => {
  test('returns every note in order with the line it starts on', () => {
    const a = signNote(suite, formatCheckpoint(body({ size: 1, kind: 'open' })), KEY_NAME, SESSION_KEY);
    // A cosigned note has one more line than the others.
    const bText = formatCheckpoint(body({ size: 5, kind: 'input' }));
    const b = signNote(suite, bText, KEY_NAME, SESSION_KEY) + signNote(suite, bText, 'custody-service', ORG_KEY).slice(bText.length + 1);
    const c = signNote(suite, formatCheckpoint(body({ size: 9, kind: 'seal' })), KEY_NAME, SESSION_KEY);
    const file = `${a}\n${b}\n${c}\n`;
    const notes = splitNotes(file);
    assert.deepEqual(
      notes.map((n) => n.note),
      [a, b, c],
    );
    // a: 6 text lines, blank, 1 signature, blank separator -> b starts on line 10; b has 2 signatures -> c on line 20
    assert.deepEqual(
      notes.map((n) => n.line),
      [1, 10, 20],
    );
    const lines = file.split('\n');
    for (const n of notes) assert.equal(lines[n.line - 1], originForSession('sess-0001'), `line ${n.line} starts a note`);
  });

  test('an empty file holds no notes', () => {
    assert.deepEqual(splitNotes(''), []);
  });

  test('a file that does not end in a newline is rejected, naming recording/checkpoints.notes', () => {
    const a = signNote(suite, formatCheckpoint(body()), KEY_NAME, SESSION_KEY);
    // torn inside the last signature line, inside the last text, or a file of one partial line
    for (const file of [`${a}\n${a.slice(0, -1)}`, `${a}\n${a.slice(0, 40)}`, 'x']) {
      const error = assertNoteError(() => splitNotes(file), /^recording\/checkpoints\.notes does not end in a newline/);
      assert.equal(error.location.line, file.split('\n').length);
    }
  });
});

describe('checkpoint bodies (C2SP tlog-checkpoint + Custody lines)', () => {
  test('formatCheckpoint writes origin, size, root, kind, time and prev, one per line', () => {
    const b = body();
    assert.equal(
      formatCheckpoint(b),
      `custody.dev/session/sess-0001\n42\n${toBase64(b.root)}\nkind interval\ntime 1735689600123\nprev ${toBase64(b.prev)}\n`,
    );
  });

  test('parseCheckpoint rejects each malformed field with a message naming the checkpoint and line', () => {
    const good = formatCheckpoint(body()).split('\n');
    const withLine = (index: number, value: string): string => good.map((l, i) => (i === index ? value : l)).join('\n');
    const root31 = toBase64(new Uint8Array(31));
    const cases: [string, string, RegExp][] = [
      ['size: letters', withLine(1, 'forty'), /invalid tree size/],
      ['size: negative', withLine(1, '-1'), /invalid tree size/],
      ['size: empty', withLine(1, ''), /invalid tree size/],
      ['size: fraction', withLine(1, '4.2'), /invalid tree size/],
      ['size: sign', withLine(1, '+42'), /invalid tree size/],
      ['size: 16 digits', withLine(1, '1234567890123456'), /invalid tree size/],
      ['root: not base64', withLine(2, 'not base64!'), /root hash/],
      ['root: 31 bytes', withLine(2, root31), /root hash/],
      ['root: url-safe alphabet', withLine(2, toBase64(new Uint8Array(32).fill(0xfb)).replaceAll('+', '-')), /root hash/],
      ['kind: unknown', withLine(3, 'kind sneaky'), /unknown kind/],
      ['kind: no prefix', withLine(3, 'seal'), /unknown kind/],
      ['kind: wrong case', withLine(3, 'Kind seal'), /unknown kind/],
      ['time: letters', withLine(4, 'time soon'), /invalid time/],
      ['time: negative', withLine(4, 'time -5'), /invalid time/],
      ['time: no prefix', withLine(4, '1735689600123'), /invalid time/],
      ['prev: not base64', withLine(5, 'prev ???'), /invalid prev/],
      ['prev: 31 bytes', withLine(5, `prev ${root31}`), /invalid prev/],
      ['prev: no prefix', withLine(5, toBase64(new Uint8Array(32))), /invalid prev/],
      ['a missing line', good.filter((_, i) => i !== 3).join('\n'), /has 5 body lines/],
      ['an extra line', withLine(6, 'extra\n'), /has 7 body lines/],
    ];
    for (const [what, text, pattern] of cases) {
      const error = assertNoteError(() => parseCheckpoint(text, where(28, 'checkpoint 4')), pattern, 28);
      assert.match(error.message, /^recording\/checkpoints\.notes checkpoint 4 \(line 28\) /, what);
    }
  });

  test('a tree size with a leading zero is not canonical and is rejected (as Go tlog.ParseTree does)', () => {
    const text = formatCheckpoint(body()).replace('\n42\n', '\n042\n');
    assertNoteError(() => parseCheckpoint(text, where(1, 'checkpoint 1')), /invalid tree size/, 1);
  });

  test('every kind the recorder writes parses', () => {
    for (const kind of ['open', 'input', 'interval', 'size', 'resize', 'marker', 'seal'] as const) {
      assert.equal(parseCheckpoint(formatCheckpoint(body({ kind })), where()).kind, kind);
    }
  });
});
