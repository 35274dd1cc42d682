import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CAST_ENTRY, MAX_CAST_LINE_BYTES, serializeEvent } from './asciicast.ts';
import { concatBytes, toBase64, utf8 } from './bytes.ts';
import { keyIdOf, nobleSigner, nobleSuite } from './crypto.ts';
import { countersignEnvelope, EnvelopeSchema, serializeEnvelope, signEnvelope } from './dsse.ts';
import {
  DEVICE_CERT_ENTRY,
  MANIFEST_ENTRY,
  MANIFEST_PAYLOAD_TYPE,
  SESSION_KEY_ENTRY,
  SESSION_KEY_PAYLOAD_TYPE,
  type SessionKeyCert,
  type TrustRoot,
} from './manifest.ts';
import { NOTES_ENTRY, signNote } from './note.ts';
import {
  DEFAULT_EVENTS,
  DEFAULT_SESSION_ID,
  DEFAULT_STARTED_AT,
  DEVICE_KEY,
  ORG_KEY,
  SESSION_KEY,
  STRANGER_KEY,
  buildBundle,
  describeReport,
  entriesOf,
  findingsWith,
  memoizedNobleSuite,
  repack,
  rezip,
  sessionKeyName,
  trustRoot,
  withEntry,
  type BundleOptions,
} from './test-support.ts';
import { buildStatement } from './writer.ts';
import { STATUS_PRECEDENCE, verifyBundle, verifyEntries, type Finding, type VerifyReport, type VerifyStatus } from './verifier.ts';
import { parseRecording } from './reader.ts';
import type { CastEvent } from './asciicast.ts';
import { readZip, writeZip } from './zip.ts';

const TRUST_DEVICE = trustRoot([{ key: DEVICE_KEY, role: 'device' }], 'ops devices');
const TRUST_ORG = trustRoot([{ key: ORG_KEY, role: 'org-root' }], 'Example Corp');
const TRUST_STRANGER = trustRoot([
  { key: STRANGER_KEY, role: 'org-root' },
  { key: STRANGER_KEY, role: 'device' },
]);
const DAY = 86_400_000;

/**
 * Verifies with the verifier's defaults (nobleSuite); `null`: no trust root.
 * Never lets an exception pass unnoticed.
 */
function verify(bundle: Uint8Array, trust: TrustRoot | null = TRUST_DEVICE): VerifyReport {
  let report: VerifyReport | undefined;
  assert.doesNotThrow(() => {
    report = verifyBundle(bundle, trust === null ? {} : { trustRoot: trust });
  });
  assert.ok(report !== undefined);
  return report;
}

function assertStatus(report: VerifyReport, status: VerifyStatus): void {
  assert.equal(report.status, status, describeReport(report));
  assert.equal(report.intact, status === 'intact' || status === 'untrusted-key', 'intact flag');
  if (status !== 'intact') assert.ok(report.summary.length > 0);
}

/** The one finding with `status` (there may be others with other statuses). */
function theFinding(report: VerifyReport, status: Finding['status']): Finding {
  const found = findingsWith(report, status);
  assert.ok(found.length >= 1, `no ${status} finding: ${describeReport(report)}`);
  return found[0]!;
}

function castWith(options: BundleOptions): Uint8Array {
  return buildBundle(options).bytes;
}

describe('verifyBundle: a valid bundle', () => {
  test('is intact and trusted when the trust root lists the device key (role device)', () => {
    const built = buildBundle();
    const report = verify(built.bytes, TRUST_DEVICE);
    assertStatus(report, 'intact');
    assert.equal(report.trusted, true);
    assert.equal(report.summary, 'intact and trusted');
    assert.deepEqual(report.findings, []);
    assert.equal(report.signer?.trustedVia, 'device-key');
    assert.equal(report.signer?.deviceKeyId, keyIdOf(nobleSuite, DEVICE_KEY.publicKey));
    assert.equal(report.signer?.sessionKeyId, keyIdOf(nobleSuite, SESSION_KEY.publicKey));
    assert.deepEqual(report.tree, { lines: built.lines, checkpoints: built.checkpoints.length, verifiedSize: built.lines, sealed: true });
    assert.equal(report.session?.sessionId, DEFAULT_SESSION_ID);
    assert.equal(report.header?.term.cols, 80);
  });

  test('is intact and trusted through an org-root-signed device certificate (role org-root)', () => {
    const report = verify(castWith({ deviceCert: {} }), TRUST_ORG);
    assertStatus(report, 'intact');
    assert.equal(report.trusted, true);
    assert.equal(report.signer?.trustedVia, 'org-root');
    assert.equal(report.signer?.orgKeyId, keyIdOf(nobleSuite, ORG_KEY.publicKey));
    assert.deepEqual(report.signer?.subject, { sub: 'admin-7', name: 'Ada Admin', email: 'ada@example.com' });
  });

  test('is intact but untrusted-key with no trust root', () => {
    const report = verify(castWith({}), null);
    assertStatus(report, 'untrusted-key');
    assert.equal(report.trusted, false);
    assert.match(theFinding(report, 'untrusted-key').message, /no trust root was given/);
  });

  test('is intact but untrusted-key with an unrelated trust root', () => {
    for (const bundle of [castWith({}), castWith({ deviceCert: {} })]) {
      const report = verify(bundle, TRUST_STRANGER);
      assertStatus(report, 'untrusted-key');
      assert.equal(report.trusted, false);
      assert.match(theFinding(report, 'untrusted-key').message, /is not in the trust root/);
    }
  });

  test('is untrusted-key when the device certificate is not valid at the session start', () => {
    const cases: BundleOptions['deviceCert'][] = [
      { notBefore: DEFAULT_STARTED_AT + 1, notAfter: DEFAULT_STARTED_AT + 365 * DAY }, // enrolled after the session
      { notBefore: DEFAULT_STARTED_AT - 365 * DAY, notAfter: DEFAULT_STARTED_AT - 1 }, // expired before it
    ];
    for (const deviceCert of cases) {
      const report = verify(castWith({ deviceCert: deviceCert! }), TRUST_ORG);
      assertStatus(report, 'untrusted-key');
      assert.equal(report.trusted, false);
      const finding = theFinding(report, 'untrusted-key');
      assert.equal(finding.location.entry, DEVICE_CERT_ENTRY);
      assert.match(finding.message, /session started at 2025-01-01T00:00:00\.000Z/);
    }
    // The bounds themselves are inside the validity window.
    assertStatus(verify(castWith({ deviceCert: { notBefore: DEFAULT_STARTED_AT, notAfter: DEFAULT_STARTED_AT } }), TRUST_ORG), 'intact');
  });

  test('a device certificate that names the org root but is signed by another key is a bad signature', () => {
    const report = verify(castWith({ deviceCert: { issuer: STRANGER_KEY, issuerKeyId: keyIdOf(nobleSuite, ORG_KEY.publicKey) } }), TRUST_ORG);
    assertStatus(report, 'bad-signature');
    assert.equal(report.trusted, false);
    assert.equal(theFinding(report, 'bad-signature').location.entry, DEVICE_CERT_ENTRY);
  });

  test('a device certificate for another device key does not vouch for this one', () => {
    const report = verify(castWith({ deviceCert: { devicePublicKey: STRANGER_KEY.publicKey } }), TRUST_ORG);
    assertStatus(report, 'tampered');
    assert.equal(report.trusted, false);
    assert.equal(theFinding(report, 'tampered').location.entry, DEVICE_CERT_ENTRY);
  });

  test('the report names a certificate subject only when an org root in the trust root vouches for it', () => {
    // Anyone can write a device certificate claiming to be Ada and sign it with their own key.
    const forged = castWith({ deviceCert: { issuer: STRANGER_KEY, subject: { sub: 'admin-7', name: 'Ada Admin', email: 'ada@example.com' } } });
    const reported: string[] = [];
    for (const trust of [null, TRUST_ORG, TRUST_DEVICE]) {
      const report = verify(forged, trust);
      assert.notEqual(report.signer?.trustedVia, 'org-root');
      if (report.signer?.subject !== undefined) reported.push(`trust root ${trust?.name ?? '(none)'}: subject ${JSON.stringify(report.signer.subject)}`);
    }
    assert.deepEqual(reported, [], 'a subject no trusted org root vouches for was reported');
  });

  test('a line of exactly 1 MiB is within the cap', () => {
    const prefix = '[0.1,"o","';
    const data = 'a'.repeat(MAX_CAST_LINE_BYTES - prefix.length - 2);
    const report = verify(castWith({ events: [{ raw: `${prefix}${data}"]` }] }));
    assertStatus(report, 'intact');
  });
});

describe('verifyBundle: hostile input is reported, never thrown', () => {
  test('zip-level garbage is malformed', () => {
    const valid = castWith({});
    const inputs: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['text', utf8('this is not a zip file, it is a poem')],
      ['zeros', new Uint8Array(4096)],
      ['an end record alone', concatBytes([utf8('PK\x05\x06'), new Uint8Array(18)])],
      ['the first half of a bundle', valid.subarray(0, valid.length >> 1)],
      ['a bundle without its last byte', valid.subarray(0, valid.length - 1)],
      ['a bundle with its start cut', valid.subarray(100)],
    ];
    for (const [what, bytes] of inputs) {
      const report = verify(bytes);
      assert.equal(report.status, 'malformed', `${what}: ${describeReport(report)}`);
      assert.equal(report.intact, false);
      assert.equal(report.trusted, false);
      assert.match(report.summary, /zip|entry|bundle/, what);
    }
  });

  test('random bytes never throw and are never intact', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const report = verify(bytes);
        assert.ok(STATUS_PRECEDENCE.includes(report.status));
        assert.equal(report.intact, false);
      }),
      { numRuns: 300 },
    );
  });

  test('a missing entry is malformed and named', () => {
    const valid = castWith({});
    for (const name of [MANIFEST_ENTRY, CAST_ENTRY, NOTES_ENTRY, SESSION_KEY_ENTRY]) {
      const report = verify(withEntry(valid, name, undefined));
      assertStatus(report, 'malformed');
      const finding = theFinding(report, 'malformed');
      assert.equal(finding.location.entry, name);
      assert.equal(finding.message, `bundle has no ${name}`);
    }
    // An empty zip misses all four.
    assert.equal(findingsWith(verify(writeZip([])), 'malformed').length, 4);
  });

  test('a device certificate dropped from a bundle whose manifest lists it is a digest mismatch', () => {
    const report = verify(withEntry(castWith({ deviceCert: {} }), DEVICE_CERT_ENTRY, undefined), TRUST_ORG);
    assertStatus(report, 'digest-mismatch');
    assert.equal(theFinding(report, 'digest-mismatch').location.entry, DEVICE_CERT_ENTRY);
  });

  test('an extra entry the format does not define is a digest mismatch naming it', () => {
    const report = verify(withEntry(castWith({}), 'recording/extra.txt', utf8('smuggled')));
    assertStatus(report, 'digest-mismatch');
    const finding = theFinding(report, 'digest-mismatch');
    assert.equal(finding.location.entry, 'recording/extra.txt');
    assert.match(finding.message, /recording\/extra\.txt/);
  });

  test('a manifest with formatVersion 2 is an unknown version', () => {
    const built = buildBundle();
    const statement = buildStatement(nobleSuite, { ...built.contents, predicate: { ...built.contents.predicate, formatVersion: 2 as 1 } });
    const manifest = serializeEnvelope(signEnvelope(nobleSuite, MANIFEST_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), DEVICE_KEY));
    const report = verify(withEntry(built.bytes, MANIFEST_ENTRY, manifest));
    assertStatus(report, 'unknown-version');
    const finding = theFinding(report, 'unknown-version');
    assert.equal(finding.location.entry, MANIFEST_ENTRY);
    assert.equal(finding.location.field, 'formatVersion');
    assert.match(finding.message, /format version 2/);
  });

  test('a session key certificate with formatVersion 2 is an unknown version', () => {
    const built = buildBundle();
    const cert: Omit<SessionKeyCert, 'formatVersion'> & { formatVersion: number } = {
      formatVersion: 2,
      sessionId: DEFAULT_SESSION_ID,
      origin: `custody.dev/session/${DEFAULT_SESSION_ID}`,
      keyName: sessionKeyName(DEFAULT_SESSION_ID),
      publicKey: toBase64(SESSION_KEY.publicKey),
      devicePublicKey: toBase64(DEVICE_KEY.publicKey),
      issuedAt: DEFAULT_STARTED_AT,
    };
    const certBytes = serializeEnvelope(signEnvelope(nobleSuite, SESSION_KEY_PAYLOAD_TYPE, utf8(JSON.stringify(cert)), DEVICE_KEY));
    const report = verify(withEntry(built.bytes, SESSION_KEY_ENTRY, certBytes));
    assertStatus(report, 'unknown-version');
    assert.equal(theFinding(report, 'unknown-version').location.entry, SESSION_KEY_ENTRY);
  });

  test('invalid JSON in the manifest is malformed and names the manifest', () => {
    const report = verify(withEntry(castWith({}), MANIFEST_ENTRY, utf8('{"payloadType": "application/vnd.in-toto+json", ')));
    assertStatus(report, 'malformed');
    const finding = theFinding(report, 'malformed');
    assert.equal(finding.location.entry, MANIFEST_ENTRY);
    assert.equal(finding.message, `${MANIFEST_ENTRY} is not valid JSON`);
  });

  test('a manifest whose statement breaks the schema names the field', () => {
    const built = buildBundle();
    const statement = buildStatement(nobleSuite, built.contents);
    const broken = { ...statement, predicate: { ...statement.predicate, startedAt: 'yesterday' } };
    const manifest = serializeEnvelope(signEnvelope(nobleSuite, MANIFEST_PAYLOAD_TYPE, utf8(JSON.stringify(broken)), DEVICE_KEY));
    const report = verify(withEntry(built.bytes, MANIFEST_ENTRY, manifest));
    assertStatus(report, 'malformed');
    assert.equal(theFinding(report, 'malformed').location.field, 'predicate.startedAt');
  });

  test('invalid UTF-8 on a cast line is malformed and names the line', () => {
    const bad = concatBytes([utf8('[0.1,"o","caf'), new Uint8Array([0xc3, 0x28]), utf8('"]')]);
    const report = verify(castWith({ events: [DEFAULT_EVENTS[0]!, DEFAULT_EVENTS[1]!, { raw: bad }] }));
    assertStatus(report, 'malformed');
    const finding = theFinding(report, 'malformed');
    assert.equal(finding.location.entry, CAST_ENTRY);
    assert.equal(finding.location.line, 4);
    assert.equal(finding.message, `${CAST_ENTRY} line 4 is not valid UTF-8`);
  });

  test('a recording of several decode blocks (1 MiB each): every line is read, and invalid UTF-8 in a later block names its line', () => {
    // Lines of ~3 KB of multi-byte text, so that blocks end mid-recording and the text is not Latin-1.
    const line = (i: number): CastEvent => ({ interval: 0.01, code: 'o', data: `${i} ${'é€😀 '.repeat(300)}\r\n` });
    const events = Array.from({ length: 900 }, (_, i) => line(i));
    const seen: CastEvent[] = [];
    const good = buildBundle({ events });
    assert.ok(good.contents.cast.length > 2.5 * 1024 * 1024);
    const intact = verifyBundle(good.bytes, { trustRoot: TRUST_DEVICE, onEvent: (event) => seen.push(event) });
    assert.equal(intact.status, 'intact', describeReport(intact));
    assert.deepEqual(seen.slice(0, -1), events);
    const bad = concatBytes([utf8('[0.1,"o","caf'), new Uint8Array([0xc3, 0x28]), utf8('"]')]);
    const report = verify(castWith({ events: [...events.slice(0, 700), { raw: bad }, ...events.slice(700)] }));
    assertStatus(report, 'malformed');
    assert.equal(theFinding(report, 'malformed').message, `${CAST_ENTRY} line 702 is not valid UTF-8`);
  });

  test('a line over the 1 MiB cap is refused (line-too-long) and named', () => {
    const prefix = '[0.1,"o","';
    const data = 'a'.repeat(MAX_CAST_LINE_BYTES + 1 - prefix.length - 2);
    const report = verify(castWith({ events: [DEFAULT_EVENTS[0]!, { raw: `${prefix}${data}"]` }] }));
    assertStatus(report, 'malformed');
    const finding = theFinding(report, 'malformed');
    assert.equal(finding.location.line, 3);
    assert.equal(finding.message, `${CAST_ENTRY} line 3 is ${MAX_CAST_LINE_BYTES + 1} bytes, over the ${MAX_CAST_LINE_BYTES}-byte limit`);
  });

  test('an unknown event code is malformed and names the line and field', () => {
    const report = verify(castWith({ events: [DEFAULT_EVENTS[0]!, { raw: '[0.1,"z","boo"]' }] }));
    assertStatus(report, 'malformed');
    const finding = theFinding(report, 'malformed');
    assert.deepEqual(finding.location, { entry: CAST_ENTRY, line: 3, field: 'code' });
    assert.match(finding.message, /line 3 has unknown event code "z"/);
  });

  test('a negative interval is malformed and names the line', () => {
    const report = verify(castWith({ events: [DEFAULT_EVENTS[0]!, DEFAULT_EVENTS[1]!, DEFAULT_EVENTS[2]!, { raw: '[-2.5,"o","back to the future"]' }] }));
    assertStatus(report, 'malformed');
    const finding = theFinding(report, 'malformed');
    assert.deepEqual(finding.location, { entry: CAST_ENTRY, line: 5, field: 'interval' });
    assert.match(finding.message, /line 5 goes back in time/);
  });

  test('a header declaring asciicast version 2 is an unknown version', () => {
    const report = verify(castWith({ header: '{"version":2,"width":80,"height":24}' }));
    assertStatus(report, 'unknown-version');
    assert.deepEqual(theFinding(report, 'unknown-version').location, { entry: CAST_ENTRY, line: 1, field: 'version' });
  });

  test('a bad line in a sealed recording is not also reported as a missing exit event', () => {
    // The recording does end with its exit event; only line 3 is bad.
    const report = verify(castWith({ events: [DEFAULT_EVENTS[0]!, { raw: '[0.1,"z","boo"]' }, DEFAULT_EVENTS[1]!] }));
    assertStatus(report, 'malformed');
    const claims = report.findings.filter((f) => /does not end with an exit event/.test(f.message));
    assert.deepEqual(claims, [], describeReport(report));
  });

  test('an event after the exit event is malformed', () => {
    const report = verify(castWith({ exitStatus: null, seal: false, events: [...DEFAULT_EVENTS, { interval: 0, code: 'x', data: '0' }, { interval: 0, code: 'm', data: 'late' }] }));
    assertStatus(report, 'malformed');
    assert.equal(theFinding(report, 'malformed').location.line, DEFAULT_EVENTS.length + 3);
  });

  test('a torn last line is reported as torn-line at the line after the last complete one', () => {
    const built = buildBundle({ exitStatus: null, tornTail: '[0.3,"o","half a li' });
    const report = verify(built.bytes);
    assertStatus(report, 'torn-line');
    const finding = theFinding(report, 'torn-line');
    assert.deepEqual(finding.location, { entry: CAST_ENTRY, line: built.lines + 1 });
    assert.match(finding.message, /torn line of 19 bytes/);
  });

  test('a torn line dropped at recovery (recorded in the manifest) is reported as torn-line', () => {
    const built = buildBundle({ exitStatus: null, recovered: { recoveredAt: DEFAULT_STARTED_AT + 60_000, sealedSize: 7, tornBytes: 23, reason: 'recorder exited' } });
    const report = verify(built.bytes);
    assertStatus(report, 'torn-line');
    assert.match(theFinding(report, 'torn-line').message, /torn last line of 23 bytes was dropped at recovery/);
    assert.equal(theFinding(report, 'info').location.field, 'predicate.recovered');
  });

  test('a checkpoint with a broken signature is bad-signature, naming the checkpoint and its line', () => {
    const built = buildBundle();
    const notes = new TextDecoder().decode(built.contents.notes);
    const third = built.checkpoints[2]!;
    // Re-sign checkpoint 3's text with another key under the session key's name.
    const lines = notes.split('\n');
    const text = lines.slice(third.line - 1, third.line + 5).join('\n') + '\n';
    const forgedSig = signNote(nobleSuite, text, sessionKeyName(DEFAULT_SESSION_ID), STRANGER_KEY).split('\n').at(-2)!;
    lines[third.line + 6] = forgedSig;
    const report = verify(repack({ ...built.contents, notes: utf8(lines.join('\n')) }));
    assertStatus(report, 'bad-signature');
    const finding = theFinding(report, 'bad-signature');
    assert.deepEqual(finding.location, { entry: NOTES_ENTRY, line: third.line, checkpoint: 3 });
    assert.match(finding.message, new RegExp(`checkpoint 3 \\(line ${third.line}\\) has no valid signature`));
  });

  test('a checkpoint whose text was edited after signing is bad-signature', () => {
    const built = buildBundle();
    const notes = new TextDecoder().decode(built.contents.notes).replace('kind resize', 'kind marker');
    const report = verify(repack({ ...built.contents, notes: utf8(notes) }));
    assertStatus(report, 'bad-signature');
    assert.equal(theFinding(report, 'bad-signature').location.checkpoint, 4);
  });

  test('a session without a seal is no-seal', () => {
    // The last event (a marker) was checkpointed, then the recorder died before the exit event.
    const built = buildBundle({
      exitStatus: null,
      events: DEFAULT_EVENTS.slice(0, 6),
      recovered: { recoveredAt: DEFAULT_STARTED_AT + 60_000, sealedSize: 7, tornBytes: 0, reason: 'recorder exited' },
    });
    assert.equal(built.checkpoints.at(-1)!.size, built.lines);
    const report = verify(built.bytes);
    assertStatus(report, 'no-seal');
    assert.equal(report.tree?.sealed, false);
    assert.equal(theFinding(report, 'no-seal').location.entry, NOTES_ENTRY);
  });

  test('lines after the last checkpoint of an unsealed session are an unsealed tail [n, m)', () => {
    const tail = [
      { interval: 0.1, code: 'o' as const, data: 'after the last checkpoint\r\n' },
      { interval: 0.1, code: 'o' as const, data: 'and more\r\n' },
    ];
    const built = buildBundle({ exitStatus: null, events: DEFAULT_EVENTS.slice(0, 6), unsealedTail: tail });
    const n = built.checkpoints.at(-1)!.size;
    assert.equal(built.lines, n + 2);
    const report = verify(built.bytes);
    assertStatus(report, 'unsealed-tail');
    const finding = theFinding(report, 'unsealed-tail');
    assert.deepEqual(finding.location.events, [n, n + 2]);
    assert.equal(finding.location.line, n + 1);
    assert.match(finding.message, new RegExp(`events \\[${n}, ${n + 2}\\)`));
    assert.equal(report.tree?.verifiedSize, n);
  });

  test('an edited event, re-signed by the device key, is tampered in the checkpoint interval that covers it', () => {
    const built = buildBundle();
    const lines = new TextDecoder().decode(built.contents.cast).split('\n');
    // line 4 (index 3) lies between checkpoint 2 (size 3) and checkpoint 3 (size 5)
    lines[3] = serializeEvent({ interval: 0.01, code: 'o', data: 'rm -rf /\r\n' });
    const report = verify(repack({ ...built.contents, cast: utf8(lines.join('\n')) }));
    assertStatus(report, 'tampered');
    const finding = theFinding(report, 'tampered');
    assert.deepEqual(finding.location.events, [3, 5]);
    assert.equal(finding.location.checkpoint, 3);
    assert.equal(report.tree?.verifiedSize, 3);
  });

  test('a cast cut short of what a checkpoint attests is truncated', () => {
    const built = buildBundle();
    const lines = new TextDecoder().decode(built.contents.cast).split('\n');
    const cast = utf8(lines.slice(0, 4).join('\n') + '\n');
    const report = verify(repack({ ...built.contents, cast }));
    assertStatus(report, 'truncated');
    const finding = theFinding(report, 'truncated');
    assert.equal(finding.location.attested, 5);
    assert.equal(finding.location.present, 4);
  });

  test('a dropped checkpoint breaks the chain and is tampered', () => {
    const built = buildBundle();
    const notes = new TextDecoder().decode(built.contents.notes).split('\n');
    const second = built.checkpoints[1]!;
    const third = built.checkpoints[2]!;
    notes.splice(second.line - 1, third.line - second.line);
    const report = verify(repack({ ...built.contents, notes: utf8(notes.join('\n')) }));
    assertStatus(report, 'tampered');
    assert.equal(theFinding(report, 'tampered').location.checkpoint, 2);
  });

  test('lines appended after the seal are tampered, in events [seal size, lines)', () => {
    const built = buildBundle();
    const cast = concatBytes([built.contents.cast, utf8(serializeEvent({ interval: 1, code: 'o', data: 'postscript' }) + '\n')]);
    const report = verify(repack({ ...built.contents, cast }));
    assert.equal(report.intact, false);
    const finding = theFinding(report, 'tampered');
    assert.deepEqual(finding.location.events, [built.lines, built.lines + 1]);
    assert.equal(finding.location.line, built.lines + 1);
  });

  test('a session key certificate for another session is tampered', () => {
    const report = verify(castWith({ predicate: { sessionId: 'sess-9999' } }));
    assertStatus(report, 'tampered');
    assert.equal(theFinding(report, 'tampered').location.field, 'predicate.sessionId');
  });

  test('times beyond what a Date can hold are reported, not thrown', () => {
    // Date's range ends at 8.64e15 ms; toISOString() throws a RangeError past it.
    const far = 9_000_000_000_000_000;
    const cases: [string, BundleOptions, TrustRoot | undefined][] = [
      ['predicate.recovered.recoveredAt', { exitStatus: null, recovered: { recoveredAt: far, sealedSize: 7, tornBytes: 0, reason: 'x' } }, TRUST_DEVICE],
      ['device certificate notBefore', { deviceCert: { notBefore: far, notAfter: far } }, TRUST_ORG],
      ['predicate.startedAt after notAfter', { deviceCert: {}, predicate: { startedAt: far } }, TRUST_ORG],
    ];
    const threw: string[] = [];
    for (const [what, options, trust] of cases) {
      let report: VerifyReport;
      try {
        report = verifyBundle(castWith(options), trust === undefined ? {} : { trustRoot: trust });
      } catch (error) {
        threw.push(`${what}: ${String(error)}`);
        continue;
      }
      assert.ok(STATUS_PRECEDENCE.includes(report.status), what);
      if (trust === TRUST_ORG) assert.equal(report.trusted, false, what);
    }
    assert.deepEqual(threw, [], 'verifyBundle threw instead of reporting');
  });
});

describe('verifyBundle: any single change is detected (fast-check)', () => {
  const built = buildBundle({ deviceCert: {} });
  const entries = entriesOf(built.bytes);
  const names = [...entries.keys()];
  // Every entry of the bundle is in play, the device certificate included.
  assert.deepEqual(new Set(names), new Set([MANIFEST_ENTRY, CAST_ENTRY, NOTES_ENTRY, SESSION_KEY_ENTRY, DEVICE_CERT_ENTRY]));
  const suite = memoizedNobleSuite();

  test('the untouched bundle is intact (the baseline the properties depend on)', () => {
    const report = verifyBundle(built.bytes, { trustRoot: TRUST_ORG, suite });
    assertStatus(report, 'intact');
    assertStatus(verifyBundle(rezip(entries), { trustRoot: TRUST_ORG, suite }), 'intact');
  });

  test('flipping any bit of any entry (re-zipped so the zip is valid) is never intact', () => {
    fc.assert(
      fc.property(fc.nat({ max: names.length - 1 }), fc.nat(), fc.nat({ max: 7 }), (entryIndex, offset, bit) => {
        const name = names[entryIndex]!;
        const data = entries.get(name)!.slice();
        const at = offset % data.length;
        data[at]! ^= 1 << bit;
        const changed = new Map(entries);
        changed.set(name, data);
        let report: VerifyReport | undefined;
        assert.doesNotThrow(() => {
          report = verifyBundle(rezip(changed), { trustRoot: TRUST_ORG, suite });
        });
        assert.notEqual(report!.status, 'intact', `${name} byte ${at} bit ${bit}`);
        assert.equal(report!.intact, false, `${name} byte ${at} bit ${bit}: ${describeReport(report!)}`);
      }),
      { numRuns: 300 },
    );
  });

  // What is signed is the entries' content. The zip container around it (timestamps, version
  // and attribute fields) is transport, not evidence: changing it is harmless, so the property is
  // that a change is detected unless every entry still holds exactly the signed bytes.
  test('changing any byte of the zip file is detected unless every entry is unchanged, and never throws', () => {
    const original = readZip(built.bytes);
    fc.assert(
      fc.property(fc.nat({ max: built.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (offset, mask) => {
        const bytes = built.bytes.slice();
        bytes[offset]! ^= mask;
        let report: VerifyReport | undefined;
        assert.doesNotThrow(() => {
          report = verifyBundle(bytes, { trustRoot: TRUST_ORG, suite });
        });
        if (report!.status === 'intact') {
          const entries = readZip(bytes);
          assert.deepEqual([...entries.keys()], [...original.keys()], `zip byte ${offset} ^ 0x${mask.toString(16)}: entries changed`);
          for (const [name, data] of original) assert.deepEqual(entries.get(name), data, `zip byte ${offset} ^ 0x${mask.toString(16)}: ${name} changed yet intact`);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('verifyEntries', () => {
  test('gives the report verifyBundle gives, and hands over every event it parsed, in order', () => {
    const { bytes } = buildBundle();
    const seen: CastEvent[] = [];
    const report = verifyEntries(readZip(bytes), { trustRoot: TRUST_DEVICE, onEvent: (event) => seen.push(event) });
    assert.deepEqual(report, verifyBundle(bytes, { trustRoot: TRUST_DEVICE }));
    assert.equal(report.status, 'intact');
    assert.deepEqual(seen, parseRecording(entriesOf(bytes).get(CAST_ENTRY)!).events);
  });

  test('a tampered recording: the same findings as verifyBundle', () => {
    const { bytes } = buildBundle();
    const tampered = withEntry(bytes, CAST_ENTRY, utf8(new TextDecoder().decode(entriesOf(bytes).get(CAST_ENTRY)).replace('README.md', 'READYOU.md')));
    const report = verifyEntries(readZip(tampered), { trustRoot: TRUST_DEVICE });
    assert.notEqual(report.status, 'intact');
    assert.deepEqual(report, verifyBundle(tampered, { trustRoot: TRUST_DEVICE }));
  });
});

describe("the service's countersignature over the manifest", () => {
  const SERVICE_KEY = nobleSigner(new Uint8Array(32).fill(0x55));
  const trust = trustRoot([{ key: DEVICE_KEY, role: 'device' }, { key: SERVICE_KEY, role: 'service' }], 'ops with service');
  const countersigned = (signer: typeof SERVICE_KEY, damage = false): Uint8Array => {
    const bundle = buildBundle().bytes;
    const manifest = EnvelopeSchema.parse(JSON.parse(new TextDecoder().decode(entriesOf(bundle).get(MANIFEST_ENTRY))));
    let cosigned = countersignEnvelope(nobleSuite, manifest, signer);
    if (damage) {
      const signatures = cosigned.signatures.map((s, i) => (i === 1 ? { ...s, sig: toBase64(new Uint8Array(64).fill(7)) } : s));
      cosigned = { ...cosigned, signatures };
    }
    return withEntry(bundle, MANIFEST_ENTRY, serializeEnvelope(cosigned));
  };

  test('a valid one by a service key of the trust root is reported, the bundle stays intact', () => {
    const report = verifyBundle(countersigned(SERVICE_KEY), { trustRoot: trust });
    assert.equal(report.status, 'intact', describeReport(report));
    assert.deepEqual(report.countersignedBy, { keyId: keyIdOf(nobleSuite, SERVICE_KEY.publicKey) });
  });

  test('a damaged one is a bad signature, named', () => {
    const report = verifyBundle(countersigned(SERVICE_KEY, true), { trustRoot: trust });
    assert.equal(report.status, 'bad-signature');
    assert.match(findingsWith(report, 'bad-signature')[0]!.message, /service's countersignature .* is not valid/);
    assert.equal(report.countersignedBy, undefined);
  });

  test('one by a key the trust root does not list is reported, not trusted; none at all is not wrong', () => {
    const report = verifyBundle(countersigned(STRANGER_KEY), { trustRoot: trust });
    assert.equal(report.status, 'intact');
    assert.equal(report.countersignedBy, undefined);
    assert.match(findingsWith(report, 'info').map((f) => f.message).join('\n'), /does not list as a service key/);
    const plain = verifyBundle(buildBundle().bytes, { trustRoot: trust });
    assert.equal(plain.status, 'intact');
    assert.equal(plain.countersignedBy, undefined);
  });
});
