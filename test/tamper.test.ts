/**
 * The tamper matrix, on bundles recorded by the real recorder (node-pty,
 * spool, signed checkpoints, packed zip). Each case unzips the bundle with
 * readZip, changes the content of one entry the way an attacker (or a broken
 * disk) would, re-zips it with writeZip so that the zip layer is valid, and
 * checks that the verifier names the right problem at the right place.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ephemeralSigner, nodeSuite, signerFromSeed } from '../node-adapters/crypto.ts';
import {
  CAST_ENTRY,
  MANIFEST_ENTRY,
  MANIFEST_PAYLOAD_TYPE,
  NOTES_ENTRY,
  SESSION_KEY_ENTRY,
  SESSION_KEY_PAYLOAD_TYPE,
  SessionKeyCertSchema,
  StatementSchema,
  formatCheckpoint,
  fromBase64,
  keyIdOf,
  openEnvelope,
  packBundle,
  parseCheckpoint,
  parseEvent,
  parseNote,
  readZip,
  serializeEnvelope,
  signEnvelope,
  signNote,
  splitNotes,
  toBase64,
  utf8,
  verifyBundle,
  writeZip,
  type CheckpointBody,
  type Ed25519Signer,
  type Finding,
  type SessionKeyCert,
  type TrustRoot,
  type VerifyReport,
} from '../shared/bundle/index.ts';
import { PROMPT, RecorderFixture, type RecordedBundle, type SessionStep } from './support/recording.ts';

/** The entries of a bundle, in the order the recorder packs them. */
const ENTRY_ORDER = [MANIFEST_ENTRY, CAST_ENTRY, NOTES_ENTRY, SESSION_KEY_ENTRY] as const;

/**
 * An admin's session: several commands with output, a resize, colour. Each
 * command is typed once the prompt is back, so each input gets a checkpoint of
 * its own and the checkpoint intervals are short (that is what localization needs).
 */
const ADMIN_SESSION: readonly SessionStep[] = [
  { waitFor: PROMPT, pauseMs: 80 },
  { input: `printf 'line %s\\n' alpha beta gamma\r`, waitFor: PROMPT, pauseMs: 80 },
  { input: 'echo second command\r', waitFor: PROMPT, pauseMs: 80 },
  { resize: [100, 30], pauseMs: 60 },
  { input: `printf 'tamper target %s\\n' middle\r`, waitFor: PROMPT, pauseMs: 80 },
  { input: 'seq 1 5\r', waitFor: PROMPT, pauseMs: 80 },
  { input: `printf '\\033[32mgreen\\033[0m done\\n'\r`, waitFor: PROMPT, pauseMs: 80 },
  { input: 'exit 0\r' },
];

const decoder = new TextDecoder('utf-8', { fatal: true });

interface ParsedCheckpoint {
  /** The note exactly as stored (text, blank line, signature lines). */
  readonly note: string;
  readonly text: string;
  readonly body: CheckpointBody;
}

function checkpointsOf(notes: Uint8Array): ParsedCheckpoint[] {
  return splitNotes(decoder.decode(notes)).map(({ note, line }, i) => {
    const where = { entry: NOTES_ENTRY, line, label: `checkpoint ${i + 1}` };
    const parsed = parseNote(note, where);
    return { note, text: parsed.text, body: parseCheckpoint(parsed.text, where) };
  });
}

/** checkpoints.notes as the recorder writes it: every note followed by one "\n". */
function notesFile(notes: readonly string[]): Uint8Array {
  return utf8(notes.map((note) => note + '\n').join(''));
}

/** The lines of session.cast, without their "\n". */
function castLinesOf(cast: Uint8Array): string[] {
  const text = decoder.decode(cast);
  assert.ok(text.endsWith('\n'), 'the recorded cast ends in a newline');
  return text.slice(0, -1).split('\n');
}

function castFile(lines: readonly string[]): Uint8Array {
  return utf8(lines.join('\n') + '\n');
}

function flipBit(data: Uint8Array, index: number, mask: number): Uint8Array {
  const copy = data.slice();
  copy[index] = copy[index]! ^ mask;
  return copy;
}

function findingOf(report: VerifyReport, status: Finding['status']): Finding {
  const finding = report.findings.find((f) => f.status === status);
  assert.ok(finding !== undefined, `expected a ${status} finding; got ${JSON.stringify(report.findings, null, 2)}`);
  return finding;
}

/** Re-signs every checkpoint with `signer`, chained (prev) from `firstPrev` as the recorder chains them. */
function resignNotes(checkpoints: readonly ParsedCheckpoint[], keyName: string, signer: Ed25519Signer, firstPrev: Uint8Array): Uint8Array {
  let prev = firstPrev;
  const notes: string[] = [];
  for (const cp of checkpoints) {
    const text = formatCheckpoint({ ...cp.body, prev });
    const note = signNote(nodeSuite, text, keyName, signer);
    notes.push(note);
    prev = nodeSuite.sha256(utf8(text)); // the chain covers each note's signed text
  }
  return notesFile(notes);
}

describe('tamper matrix on a real recorded session', () => {
  let recorder: RecorderFixture;
  let session: RecordedBundle;
  let otherSession: RecordedBundle;
  let trustRoot: TrustRoot;
  let entries: Map<string, Uint8Array>;
  let lines: string[];
  let checkpoints: ParsedCheckpoint[];
  let sessionKeyCert: SessionKeyCert;

  before(async () => {
    recorder = await RecorderFixture.start();
    session = await recorder.record({ steps: ADMIN_SESSION });
    otherSession = await recorder.record({ steps: [{ waitFor: PROMPT }, { input: 'echo another session\r', waitFor: PROMPT }, { input: 'exit\r' }] });
    trustRoot = await recorder.trustRoot();
    entries = readZip(session.bytes);
    lines = castLinesOf(entries.get(CAST_ENTRY)!);
    checkpoints = checkpointsOf(entries.get(NOTES_ENTRY)!);
    sessionKeyCert = SessionKeyCertSchema.parse(openEnvelope(entries.get(SESSION_KEY_ENTRY)!, SESSION_KEY_ENTRY, SESSION_KEY_PAYLOAD_TYPE).body);
    // The matrix needs several intervals to show that a change is located to one of them.
    assert.ok(checkpoints.length >= 6, `the session has ${checkpoints.length} checkpoints; the matrix needs at least 6`);
    assert.equal(checkpoints.at(-1)?.body.kind, 'seal');
  });

  after(async () => {
    await recorder?.close();
  });

  const verify = (bundle: Uint8Array): VerifyReport => verifyBundle(bundle, { trustRoot, suite: nodeSuite });

  /** The bundle re-zipped with some entries replaced: a valid zip whose content changed. */
  const rezip = (changes: Partial<Record<(typeof ENTRY_ORDER)[number], Uint8Array>>): Uint8Array =>
    writeZip(ENTRY_ORDER.map((name) => ({ name, data: changes[name] ?? entries.get(name)! })));

  const withCast = (castLines: readonly string[]): Uint8Array => rezip({ [CAST_ENTRY]: castFile(castLines) });

  /** [a, b): a = size of the last checkpoint that still covers only lines before `index`, b = the first that covers it. */
  const intervalOf = (index: number): [number, number] => {
    const a = Math.max(0, ...checkpoints.map((cp) => cp.body.size).filter((size) => size <= index));
    const b = Math.min(...checkpoints.map((cp) => cp.body.size).filter((size) => size > index));
    return [a, b];
  };

  /** The 1-based index of the first checkpoint that covers line `index`. */
  const checkpointCovering = (index: number): number => checkpoints.findIndex((cp) => cp.body.size > index) + 1;

  const assertTamperedAt = (report: VerifyReport, index: number): void => {
    assert.equal(report.status, 'tampered', report.summary);
    assert.equal(report.intact, false);
    const finding = findingOf(report, 'tampered');
    assert.equal(finding.location.entry, CAST_ENTRY);
    const events = finding.location.events;
    assert.ok(events !== undefined, `the finding names no event range: ${finding.message}`);
    assert.deepEqual(events, intervalOf(index), `line index ${index} is located to the checkpoint interval that holds it`);
    assert.ok(events[0] <= index && index < events[1]);
    assert.equal(finding.location.checkpoint, checkpointCovering(index));
    assert.match(finding.message, new RegExp(`events \\[${events[0]}, ${events[1]}\\)`));
  };

  /** Index of a line in the middle third of the recording: an output event whose raw line contains `text`. */
  const outputLineWith = (text: string): number => {
    const index = lines.findIndex((line, i) => i > 0 && parseEvent(line, i + 1).code === 'o' && line.includes(text));
    assert.ok(index > 0, `no output event contains ${JSON.stringify(text)}:\n${lines.join('\n')}`);
    return index;
  };

  test('the untouched bundle is intact and trusted', () => {
    const report = verify(session.bytes);
    assert.equal(report.status, 'intact', report.summary);
    assert.equal(report.trusted, true);
    assert.equal(report.intact, true);
    assert.equal(report.summary, 'intact and trusted');
    assert.deepEqual(report.findings, []);
    assert.equal(report.signer?.deviceKeyId, recorder.deviceKeyId);
    assert.equal(report.signer?.trustedVia, 'device-key');
    assert.deepEqual(report.tree, { lines: lines.length, checkpoints: checkpoints.length, verifiedSize: lines.length, sealed: true });
    assert.equal(report.session?.exitStatus, 0);
    // Re-zipping unchanged content keeps it intact: the cases below change only what they say they change.
    assert.equal(verify(rezip({})).status, 'intact');
    // What the recorder reported while recording is what the bundle holds.
    assert.deepEqual(
      session.checkpoints.map((cp) => [cp.kind, cp.size]),
      checkpoints.map((cp) => [cp.body.kind, cp.body.size]),
    );
  });

  test('one changed byte inside an output event is tampering located to its checkpoint interval', () => {
    const index = outputLineWith('tamper target middle');
    const at = lines[index]!.indexOf('middle');
    const edited = [...lines];
    edited[index] = `${lines[index]!.slice(0, at)}M${lines[index]!.slice(at + 1)}`; // "middle" → "Middle": still a valid event
    const report = verify(withCast(edited));
    assertTamperedAt(report, index);
    assert.ok(index > checkpoints[1]!.body.size, 'the edit is in the middle of the recording, not in its first interval');
    // The manifest's digest of the cast no longer matches either; the located finding is what the user sees first.
    assert.ok(report.findings.some((f) => f.status === 'digest-mismatch' && f.location.entry === CAST_ENTRY));
    assert.equal(report.tree?.verifiedSize, intervalOf(index)[0]);
  });

  test('an inserted event line is tampering located to the interval it was inserted into', () => {
    const index = outputLineWith('tamper target middle');
    const edited = [...lines.slice(0, index), JSON.stringify([0.01, 'o', 'rm -rf / # never happened\r\n']), ...lines.slice(index)];
    assertTamperedAt(verify(withCast(edited)), index);
  });

  test('a deleted event line is tampering located to the interval it was deleted from', () => {
    const index = outputLineWith('tamper target middle');
    const edited = lines.filter((_, i) => i !== index);
    const report = verify(withCast(edited));
    assertTamperedAt(report, index);
    // The seal attests one line more than the file now has.
    assert.ok(report.findings.some((f) => f.status === 'truncated'));
  });

  test('two swapped adjacent event lines are tampering located to the interval of the first', () => {
    const index = outputLineWith('tamper target middle');
    assert.notEqual(lines[index], lines[index + 1]);
    assert.notEqual(parseEvent(lines[index + 1]!, index + 2).code, 'x', 'the swap stays before the exit event');
    const edited = [...lines];
    [edited[index], edited[index + 1]] = [lines[index + 1]!, lines[index]!];
    assertTamperedAt(verify(withCast(edited)), index);
  });

  test('a recording cut after a checkpoint is reported as truncated, with the lines attested and present', () => {
    // Cut after a checkpoint in the middle: everything left is covered by valid checkpoints.
    const cut = checkpoints[Math.floor(checkpoints.length / 2)]!.body.size;
    const next = checkpoints.find((cp) => cp.body.size > cut)!;
    const report = verify(withCast(lines.slice(0, cut)));
    // The cast's digest no longer matches the manifest either, but "digest-mismatch" only says that
    // something changed; the checkpoints say exactly what: the tail after line `cut` is missing.
    assert.equal(report.status, 'truncated', `status ${report.status}: ${report.summary}`);
    const finding = findingOf(report, 'truncated');
    assert.equal(finding.location.attested, next.body.size);
    assert.equal(finding.location.present, cut);
    assert.equal(finding.location.checkpoint, checkpoints.indexOf(next) + 1);
    assert.equal(report.tree?.verifiedSize, cut, 'the lines that remain are all verified');
    assert.equal(report.intact, false);
  });

  test('a recording cut after a checkpoint by someone holding the device key (manifest re-signed) is still truncated', async () => {
    // The device key sits on the disk (a 0600 file here); the session key never did. Re-signing the
    // manifest over the cut cast makes its digests match, but the signed checkpoints still attest more.
    const cut = checkpoints[Math.floor(checkpoints.length / 2)]!.body.size;
    const next = checkpoints.find((cp) => cp.body.size > cut)!;
    const keyFile = JSON.parse(await readFile(recorder.keyFile, 'utf8')) as { seed: string };
    const deviceKey = signerFromSeed(fromBase64(keyFile.seed)!);
    const statement = StatementSchema.parse(openEnvelope(entries.get(MANIFEST_ENTRY)!, MANIFEST_ENTRY, MANIFEST_PAYLOAD_TYPE).body);
    const bundle = packBundle(
      nodeSuite,
      { cast: castFile(lines.slice(0, cut)), notes: entries.get(NOTES_ENTRY)!, sessionKeyCert: entries.get(SESSION_KEY_ENTRY)!, predicate: statement.predicate },
      deviceKey,
    );
    const report = verify(bundle);
    assert.equal(report.status, 'truncated', report.summary);
    const finding = findingOf(report, 'truncated');
    assert.equal(finding.location.attested, next.body.size);
    assert.equal(finding.location.present, cut);
  });

  describe('one flipped bit in each file', () => {
    test('session.cast: a bit of an event time is tampering located to its interval', () => {
      // The interval "0.0…" of the target line becomes "1.0…": a valid event that happened a second
      // later. Time is part of the record (replay, "when did they type this"), so it is tampering.
      const index = outputLineWith('tamper target middle');
      assert.ok(lines[index]!.startsWith('[0'), lines[index]);
      const cast = entries.get(CAST_ENTRY)!;
      const offset = castFile(lines.slice(0, index)).length + 1; // the "0" after "["
      assertTamperedAt(verify(rezip({ [CAST_ENTRY]: flipBit(cast, offset, 0x01) })), index);
    });

    test('checkpoints.notes: a bit of one checkpoint is a bad signature on that checkpoint', () => {
      // The last digit of the time line of a middle checkpoint: still a well-formed checkpoint, but
      // the session key's signature over its text no longer verifies. A bad signature outranks the
      // broken chain it causes at the next checkpoint and the notes' digest mismatch.
      const k = Math.floor(checkpoints.length / 2); // 0-based
      const notes = entries.get(NOTES_ENTRY)!;
      const before = notesFile(checkpoints.slice(0, k).map((cp) => cp.note)).length;
      const timeLine = checkpoints[k]!.note.indexOf('\nprev ');
      const offset = before + utf8(checkpoints[k]!.note.slice(0, timeLine)).length - 1;
      const report = verify(rezip({ [NOTES_ENTRY]: flipBit(notes, offset, 0x01) }));
      assert.equal(report.status, 'bad-signature', report.summary);
      const finding = findingOf(report, 'bad-signature');
      assert.equal(finding.location.entry, NOTES_ENTRY);
      assert.equal(finding.location.checkpoint, k + 1);
      // The chain breaks at the next one, since it points at the note as it was signed.
      assert.ok(report.findings.some((f) => f.status === 'tampered' && f.location.checkpoint === k + 2));
    });

    test("keys/session-key.dsse.json: a bit of the device key's signature is a bad signature on the session key", () => {
      // Flipping the case of a base64 letter keeps the envelope well-formed; the signature is what
      // vouches for the session key, so nothing it signed can be believed.
      const cert = entries.get(SESSION_KEY_ENTRY)!;
      const offset = letterInSignature(cert);
      const report = verify(rezip({ [SESSION_KEY_ENTRY]: flipBit(cert, offset, 0x20) }));
      assert.equal(report.status, 'bad-signature', report.summary);
      assert.equal(findingOf(report, 'bad-signature').location.entry, SESSION_KEY_ENTRY);
      // `trusted` stays true (the key named in the certificate is in the trust root); `intact` is what fails.
      assert.equal(report.intact, false);
      // Checkpoint 1 is chained to the certificate's bytes, so the chain breaks there too.
      assert.ok(report.findings.some((f) => f.status === 'tampered' && f.location.checkpoint === 1));
    });

    test("manifest.dsse.json: a bit of the device key's signature is a bad signature on the manifest", () => {
      const manifest = entries.get(MANIFEST_ENTRY)!;
      const report = verify(rezip({ [MANIFEST_ENTRY]: flipBit(manifest, letterInSignature(manifest), 0x20) }));
      assert.equal(report.status, 'bad-signature', report.summary);
      assert.equal(findingOf(report, 'bad-signature').location.entry, MANIFEST_ENTRY);
    });

    test('any single bit flipped in any entry is never intact, and the verifier never throws', () => {
      fc.assert(
        fc.property(fc.constantFrom(...ENTRY_ORDER), fc.nat(), fc.integer({ min: 0, max: 7 }), (name, position, bit) => {
          const data = entries.get(name)!;
          const report = verify(rezip({ [name]: flipBit(data, position % data.length, 1 << bit) }));
          assert.equal(report.intact, false, `${name} byte ${position % data.length} bit ${bit}: ${report.status}`);
          assert.notEqual(report.status, 'untrusted-key');
        }),
        { numRuns: 300 },
      );
    });
  });

  test('a checkpoint dropped from the middle breaks the chain at the note after it', () => {
    const k = Math.floor(checkpoints.length / 2); // 0-based index of the dropped note
    const notes = notesFile(checkpoints.filter((_, i) => i !== k).map((cp) => cp.note));
    const report = verify(rezip({ [NOTES_ENTRY]: notes }));
    assert.equal(report.status, 'tampered', report.summary);
    const finding = findingOf(report, 'tampered');
    assert.equal(finding.location.entry, NOTES_ENTRY);
    // The note now at position k + 1 (1-based) was chained to the dropped one.
    assert.equal(finding.location.checkpoint, k + 1);
    assert.match(finding.message, /dropped, inserted or reordered/);
  });

  test('two reordered checkpoints break the chain at the first of them', () => {
    const k = Math.floor(checkpoints.length / 2);
    const reordered = checkpoints.map((cp) => cp.note);
    [reordered[k], reordered[k + 1]] = [reordered[k + 1]!, reordered[k]!];
    const report = verify(rezip({ [NOTES_ENTRY]: notesFile(reordered) }));
    assert.equal(report.status, 'tampered', report.summary);
    const first = report.findings.find((f) => f.status === 'tampered' && f.location.entry === NOTES_ENTRY);
    assert.equal(first?.location.checkpoint, k + 1, JSON.stringify(report.findings));
  });

  test('a session key swapped for the attacker’s own, vouched for by a new device key, verifies only as untrusted', () => {
    // Everything re-signed consistently: new session key, new certificate, new notes, new manifest.
    // Only the trust root can tell: the attacker's device key is not in it.
    const attackerDevice = ephemeralSigner();
    const attackerSession = ephemeralSigner();
    const cert: SessionKeyCert = {
      ...sessionKeyCert,
      publicKey: toBase64(attackerSession.publicKey),
      devicePublicKey: toBase64(attackerDevice.publicKey),
    };
    const certBytes = serializeEnvelope(signEnvelope(nodeSuite, SESSION_KEY_PAYLOAD_TYPE, utf8(JSON.stringify(cert)), attackerDevice));
    const notes = resignNotes(checkpoints, cert.keyName, attackerSession, nodeSuite.sha256(certBytes));
    const statement = StatementSchema.parse(openEnvelope(entries.get(MANIFEST_ENTRY)!, MANIFEST_ENTRY, MANIFEST_PAYLOAD_TYPE).body);
    const bundle = packBundle(nodeSuite, { cast: entries.get(CAST_ENTRY)!, notes, sessionKeyCert: certBytes, predicate: statement.predicate }, attackerDevice);

    const report = verify(bundle);
    assert.equal(report.status, 'untrusted-key', report.summary);
    assert.equal(report.trusted, false);
    assert.equal(report.signer?.deviceKeyId, keyIdOf(nodeSuite, attackerDevice.publicKey));
    assert.notEqual(report.signer?.deviceKeyId, recorder.deviceKeyId);
    assert.match(report.summary, /untrusted/);
    // Against a trust root that does list the attacker's key it would pass: proof that only trust failed.
    const attackerRoot: TrustRoot = {
      version: 1,
      keys: [{ keyId: keyIdOf(nodeSuite, attackerDevice.publicKey), publicKey: toBase64(attackerDevice.publicKey), role: 'device' }],
    };
    assert.equal(verifyBundle(bundle, { trustRoot: attackerRoot, suite: nodeSuite }).status, 'intact');
  });

  test('checkpoints re-signed with another key under the original certificate are bad signatures', () => {
    const stranger = ephemeralSigner();
    const notes = resignNotes(checkpoints, sessionKeyCert.keyName, stranger, nodeSuite.sha256(entries.get(SESSION_KEY_ENTRY)!));
    const report = verify(rezip({ [NOTES_ENTRY]: notes }));
    assert.equal(report.status, 'bad-signature', report.summary);
    const finding = findingOf(report, 'bad-signature');
    assert.equal(finding.location.entry, NOTES_ENTRY);
    assert.equal(finding.location.checkpoint, 1);
    assert.equal(report.findings.filter((f) => f.status === 'bad-signature').length, checkpoints.length, 'every checkpoint is refused');
    assert.equal(report.tree?.verifiedSize, 0, 'no line counts as verified');
  });

  test('the manifest of another session from the same device is detected', () => {
    const foreign = readZip(otherSession.bytes).get(MANIFEST_ENTRY)!;
    const report = verify(rezip({ [MANIFEST_ENTRY]: foreign }));
    // Validly signed by the same (trusted) device key, but it describes another session: the session
    // key certificate names this session's id, and every subject digest differs.
    assert.equal(report.status, 'tampered', report.summary);
    const finding = findingOf(report, 'tampered');
    assert.equal(finding.location.entry, MANIFEST_ENTRY);
    assert.equal(finding.location.field, 'predicate.sessionId');
    for (const name of [CAST_ENTRY, NOTES_ENTRY, SESSION_KEY_ENTRY]) {
      assert.ok(report.findings.some((f) => f.status === 'digest-mismatch' && f.location.entry === name), `digest of ${name}`);
    }
    assert.equal(report.intact, false);
  });

  test('an event appended after the seal is tampering "after the seal"', () => {
    const appended = [...lines, JSON.stringify([0.5, 'o', 'appended later\r\n'])];
    const report = verify(withCast(appended));
    assert.equal(report.status, 'tampered', `status ${report.status}: ${report.summary}`);
    const finding = findingOf(report, 'tampered');
    assert.match(finding.message, /after the seal/);
    assert.deepEqual(finding.location.events, [lines.length, lines.length + 1]);
    assert.equal(report.intact, false);
  });

  describe('raw zip damage', () => {
    test('a byte flipped in the middle of the zip file is never intact', () => {
      const middle = Math.floor(session.bytes.length / 2);
      for (const mask of [0x01, 0x80, 0xff]) {
        let report: VerifyReport | undefined;
        assert.doesNotThrow(() => {
          report = verify(flipBit(session.bytes, middle, mask));
        });
        assert.equal(report!.intact, false, `mask ${mask}: ${report!.status}`);
      }
    });

    test('any byte changed anywhere in the zip: the verifier never throws, and "intact" only when every entry is unchanged', () => {
      // Bytes that no entry's content depends on (DOS timestamps, "version made by", attribute bits)
      // are not signed; changing them may leave the bundle intact, but never with different content.
      fc.assert(
        fc.property(fc.nat({ max: session.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (offset, mask) => {
          const damaged = flipBit(session.bytes, offset, mask);
          let report: VerifyReport | undefined;
          assert.doesNotThrow(() => {
            report = verify(damaged);
          });
          if (report!.intact) {
            const read = readZip(damaged);
            assert.deepEqual([...read.keys()].sort(), [...entries.keys()].sort());
            for (const [name, data] of entries) assert.deepEqual(read.get(name), data, `offset ${offset}: ${name} changed yet verified`);
          }
        }),
        { numRuns: 400 },
      );
    });
  });
});

/** Offset of a base64 letter in the middle of the first DSSE signature of an envelope file. */
function letterInSignature(envelope: Uint8Array): number {
  const text = decoder.decode(envelope);
  const key = text.indexOf('"sig": "');
  assert.ok(key >= 0, 'the envelope has a signature');
  const start = key + '"sig": "'.length;
  const end = text.indexOf('"', start);
  for (let i = Math.floor((start + end) / 2); i < end; i++) {
    if (/[A-Za-z]/.test(text[i]!)) return utf8(text.slice(0, i)).length;
  }
  throw new Error('no letter in the signature');
}
