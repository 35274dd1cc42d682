import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, toBase64, utf8 } from './bytes.ts';
import { keyIdOf, nobleSuite } from './crypto.ts';
import { countersignEnvelope, openEnvelope, pae, serializeEnvelope, signEnvelope, verifyEnvelope, type Envelope } from './dsse.ts';
import { FormatError, type FormatErrorCode } from './errors.ts';
import { MANIFEST_PAYLOAD_TYPE, SESSION_KEY_ENTRY, SESSION_KEY_PAYLOAD_TYPE } from './manifest.ts';
import { DEVICE_KEY, ORG_KEY, STRANGER_KEY } from './test-support.ts';

const suite = nobleSuite;
const decoder = new TextDecoder();
const TYPE = SESSION_KEY_PAYLOAD_TYPE;
const PAYLOAD = utf8(JSON.stringify({ hello: 'w\u00f6rld' }));

function envelopeBytes(value: unknown): Uint8Array {
  return utf8(JSON.stringify(value));
}

function assertOpenError(bytes: Uint8Array, code: FormatErrorCode, field: string | undefined, pattern: RegExp): void {
  let caught: unknown;
  try {
    openEnvelope(bytes, SESSION_KEY_ENTRY, TYPE);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof FormatError, `expected a FormatError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.location.entry, SESSION_KEY_ENTRY);
  assert.ok(caught.message.startsWith(`${SESSION_KEY_ENTRY} `), caught.message);
  assert.equal(caught.location.field, field, caught.message);
  if (field !== undefined) assert.ok(caught.message.includes(field), `message should name field ${field}: ${caught.message}`);
  assert.match(caught.message, pattern);
}

describe('DSSE pre-authentication encoding', () => {
  test('matches the DSSE spec example byte for byte', () => {
    const encoded = pae('http://example.com/HelloWorld', utf8('hello world'));
    assert.equal(decoder.decode(encoded), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  test('lengths are byte counts, not character counts', () => {
    const encoded = pae('t\u00e9', utf8('\u{1F600}'));
    assert.deepEqual(encoded, concatBytes([utf8('DSSEv1 3 t\u00e9 4 '), utf8('\u{1F600}')]));
    assert.equal(decoder.decode(pae('', new Uint8Array(0))), 'DSSEv1 0  0 ');
  });
});

describe('DSSE envelopes', () => {
  test('signEnvelope signs PAE(type, payload) with the key id of the signer', () => {
    const envelope = signEnvelope(suite, TYPE, PAYLOAD, DEVICE_KEY);
    assert.equal(envelope.payloadType, TYPE);
    assert.equal(envelope.payload, toBase64(PAYLOAD));
    assert.equal(envelope.signatures.length, 1);
    assert.equal(envelope.signatures[0]!.keyid, keyIdOf(suite, DEVICE_KEY.publicKey));
    const opened = openEnvelope(serializeEnvelope(envelope), SESSION_KEY_ENTRY, TYPE);
    assert.deepEqual(opened.payload, PAYLOAD);
    assert.deepEqual(opened.body, { hello: 'w\u00f6rld' });
    assert.ok(verifyEnvelope(suite, opened, DEVICE_KEY.publicKey));
  });

  test('verification fails for another key, another payload or another payload type', () => {
    const envelope = signEnvelope(suite, TYPE, PAYLOAD, DEVICE_KEY);
    const opened = openEnvelope(serializeEnvelope(envelope), SESSION_KEY_ENTRY, TYPE);
    assert.ok(!verifyEnvelope(suite, opened, STRANGER_KEY.publicKey));

    const otherPayload: Envelope = { ...envelope, payload: toBase64(utf8(JSON.stringify({ hello: 'mallory' }))) };
    assert.ok(!verifyEnvelope(suite, openEnvelope(serializeEnvelope(otherPayload), SESSION_KEY_ENTRY, TYPE), DEVICE_KEY.publicKey));

    const otherType: Envelope = { ...envelope, payloadType: MANIFEST_PAYLOAD_TYPE };
    assert.ok(!verifyEnvelope(suite, openEnvelope(serializeEnvelope(otherType), SESSION_KEY_ENTRY, MANIFEST_PAYLOAD_TYPE), DEVICE_KEY.publicKey));

    // A valid signature filed under another key id does not count.
    const relabelled: Envelope = { ...envelope, signatures: [{ keyid: keyIdOf(suite, STRANGER_KEY.publicKey), sig: envelope.signatures[0]!.sig }] };
    assert.ok(!verifyEnvelope(suite, openEnvelope(serializeEnvelope(relabelled), SESSION_KEY_ENTRY, TYPE), DEVICE_KEY.publicKey));
  });

  test('countersignEnvelope adds a second valid signature and keeps the first', () => {
    const envelope = signEnvelope(suite, TYPE, PAYLOAD, DEVICE_KEY);
    const cosigned = countersignEnvelope(suite, envelope, ORG_KEY);
    assert.equal(cosigned.signatures.length, 2);
    assert.deepEqual(cosigned.signatures[0], envelope.signatures[0]);
    assert.equal(cosigned.signatures[1]!.keyid, keyIdOf(suite, ORG_KEY.publicKey));
    assert.equal(cosigned.payload, envelope.payload);
    const opened = openEnvelope(serializeEnvelope(cosigned), SESSION_KEY_ENTRY, TYPE);
    assert.ok(verifyEnvelope(suite, opened, DEVICE_KEY.publicKey));
    assert.ok(verifyEnvelope(suite, opened, ORG_KEY.publicKey));
    assert.ok(!verifyEnvelope(suite, opened, STRANGER_KEY.publicKey));
    // the original is not changed in place
    assert.equal(envelope.signatures.length, 1);
  });

  test('countersignEnvelope refuses an envelope whose payload is not base64', () => {
    const envelope = signEnvelope(suite, TYPE, PAYLOAD, DEVICE_KEY);
    assert.throws(() => countersignEnvelope(suite, { ...envelope, payload: 'not base64' }, ORG_KEY), /base64/);
  });

  test('serializeEnvelope writes indented JSON ending in a newline', () => {
    const envelope = signEnvelope(suite, TYPE, PAYLOAD, DEVICE_KEY);
    const text = decoder.decode(serializeEnvelope(envelope));
    assert.ok(text.endsWith('}\n'));
    assert.deepEqual(JSON.parse(text), envelope);
  });
});

describe('openEnvelope errors name the entry and the field', () => {
  const good = signEnvelope(suite, TYPE, PAYLOAD, DEVICE_KEY);

  test('invalid UTF-8', () => {
    const bytes = concatBytes([utf8('{"payloadType":"'), new Uint8Array([0xc0, 0x80]), utf8('"}')]);
    assertOpenError(bytes, 'invalid-utf8', undefined, /is not valid UTF-8/);
  });

  test('invalid JSON', () => {
    assertOpenError(utf8('{"payloadType": '), 'invalid-json', undefined, /is not valid JSON/);
    assertOpenError(new Uint8Array(0), 'invalid-json', undefined, /is not valid JSON/);
  });

  test('a missing or mistyped field', () => {
    assertOpenError(envelopeBytes({ payload: good.payload, signatures: good.signatures }), 'invalid-field', 'payloadType', /field payloadType/);
    assertOpenError(envelopeBytes({ ...good, payload: 42 }), 'invalid-field', 'payload', /field payload/);
    assertOpenError(envelopeBytes({ ...good, signatures: [] }), 'invalid-field', 'signatures', /field signatures/);
    assertOpenError(envelopeBytes({ ...good, signatures: [{ keyid: 'k' }] }), 'invalid-field', 'signatures.0.sig', /field signatures\.0\.sig/);
    assertOpenError(envelopeBytes([good]), 'invalid-field', '(envelope)', /field \(envelope\)/);
  });

  test('the wrong payloadType', () => {
    assertOpenError(envelopeBytes({ ...good, payloadType: MANIFEST_PAYLOAD_TYPE }), 'invalid-field', 'payloadType', /has payloadType "application\/vnd\.in-toto\+json", expected/);
  });

  test('a payload that is not base64', () => {
    for (const payload of ['not base64!', `${good.payload} `, good.payload.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')]) {
      if (payload === good.payload) continue;
      assertOpenError(envelopeBytes({ ...good, payload }), 'invalid-field', 'payload', /field payload is not valid base64/);
    }
  });

  test('a payload that is not UTF-8 or not JSON', () => {
    assertOpenError(envelopeBytes({ ...good, payload: toBase64(new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d])) }), 'invalid-utf8', 'payload', /payload is not valid UTF-8/);
    assertOpenError(envelopeBytes({ ...good, payload: toBase64(utf8('{"a":')) }), 'invalid-json', 'payload', /payload is not valid JSON/);
  });
});
