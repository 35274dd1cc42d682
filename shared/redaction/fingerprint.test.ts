import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { devRedactionKey, fingerprint, FINGERPRINT_PATTERN, isFingerprint, type RedactionKey } from './fingerprint.ts';

const orgKey: RedactionKey = { keyId: 'org-7', key: new Uint8Array(32).map((_, i) => i) };

/** Hex-heavy secrets are where a chance overlap with a hex digest is likeliest. */
const secretArb = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'binary', maxLength: 32 }),
  fc.stringMatching(/^[0-9a-f]{8,128}$/),
  fc.stringMatching(/^[0-9A-F]{8,128}$/),
);

function fragments(text: string, length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + length <= text.length; i++) out.push(text.slice(i, i + length));
  return out;
}

describe('fingerprint', () => {
  test('is the key id and the first 16 bytes of HMAC-SHA256(key, UTF-8 secret), as node:crypto computes it', () => {
    fc.assert(
      fc.property(secretArb, (secret) => {
        fc.pre(secret.isWellFormed());
        const expected = createHmac('sha256', orgKey.key).update(secret, 'utf8').digest('hex').slice(0, 32);
        // Skip the rare secret that the retry rule applies to (its own test below).
        fc.pre(!fragments(secret.toLowerCase(), 4).some((fragment) => expected.includes(fragment)));
        assert.equal(fingerprint(orgKey, secret), `org-7:${expected}`);
      }),
    );
  });

  test('known-answer vectors, pinned: auditors match against bundles written long ago', () => {
    const kat: RedactionKey = { keyId: 'kat', key: new TextEncoder().encode('custody redaction test key 0001') };
    assert.equal(
      createHmac('sha256', kat.key).update('password').digest('hex').slice(0, 32),
      '563cf6d13aefb2a1140f9adfc58a7c33',
    );
    assert.equal(fingerprint(kat, 'password'), 'kat:563cf6d13aefb2a1140f9adfc58a7c33');
    assert.equal(fingerprint(orgKey, 'ghp_16C7e42F292c6912E7710c838347Ae178B4a'), 'org-7:afc496400c625688b12b2f6245ec6ca6');
  });

  test('is stable, and has the form <keyId>:<32 hex digits>', () => {
    fc.assert(
      fc.property(secretArb, (secret) => {
        const first = fingerprint(orgKey, secret);
        assert.equal(fingerprint(orgKey, secret), first);
        assert.match(first, FINGERPRINT_PATTERN);
        assert.ok(isFingerprint(first));
      }),
    );
  });

  test('different keys give different fingerprints for the same secret', () => {
    const other: RedactionKey = { keyId: 'org-7', key: new Uint8Array(32).fill(1) };
    fc.assert(
      fc.property(secretArb, (secret) => {
        assert.notEqual(fingerprint(orgKey, secret).split(':')[1], fingerprint(other, secret).split(':')[1]);
      }),
    );
    assert.notEqual(fingerprint(devRedactionKey('a'), 'secret'), fingerprint(devRedactionKey('b'), 'secret'));
  });

  test('different secrets give different fingerprints', () => {
    fc.assert(
      fc.property(secretArb, secretArb, (a, b) => {
        fc.pre(a !== b);
        assert.notEqual(fingerprint(orgKey, a), fingerprint(orgKey, b));
      }),
    );
  });

  test('never contains a run of 4 characters of the secret, in any case, not even by chance', () => {
    fc.assert(
      fc.property(secretArb, (secret) => {
        const digest = fingerprint(orgKey, secret).split(':')[1]!;
        for (const fragment of fragments(secret.toLowerCase(), 4)) {
          assert.ok(!digest.includes(fragment), `digest ${digest} contains ${fragment} of the secret`);
        }
        // and the whole marker text: the key id is configuration, not secret-derived
        fc.pre(!fragments(secret, 4).some((f) => 'org-7:'.includes(f)));
        const whole = fingerprint(orgKey, secret);
        for (const fragment of fragments(secret, 4)) assert.ok(!whole.includes(fragment));
      }),
      { numRuns: 2000 },
    );
  });

  test('a secret whose plain digest overlaps it gets the retry digest', () => {
    // Search deterministically for a 4-hex secret whose own HMAC starts with... any overlap at all.
    let found: string | undefined;
    for (let n = 0; n < 1 << 16 && found === undefined; n++) {
      const secret = n.toString(16).padStart(4, '0');
      const plain = createHmac('sha256', orgKey.key).update(secret).digest('hex').slice(0, 32);
      if (plain.includes(secret)) found = secret;
    }
    assert.ok(found !== undefined, 'some 4-hex secret appears in its own plain digest');
    const plain = createHmac('sha256', orgKey.key).update(found).digest('hex').slice(0, 32);
    const retryKey = createHmac('sha256', orgKey.key).update('custody fingerprint retry 1').digest();
    const retry = createHmac('sha256', retryKey).update(found).digest('hex').slice(0, 32);
    const result = fingerprint(orgKey, found).split(':')[1]!;
    assert.notEqual(result, plain);
    assert.ok(!result.includes(found));
    if (!retry.includes(found)) assert.equal(result, retry);
  });

  test('is no plain hash of the secret', () => {
    const secret = 'AKIAIOSFODNN7EXAMPLE';
    const digest = fingerprint(orgKey, secret).split(':')[1]!;
    assert.ok(!createHash('sha256').update(secret).digest('hex').startsWith(digest));
  });

  test('refuses short keys and key ids that could break a marker', () => {
    assert.throws(() => fingerprint({ keyId: 'k', key: new Uint8Array(15) }, 'secret'), /at least 16/);
    for (const keyId of ['', 'a b', 'a:b', 'x'.repeat(65), 'ключ']) {
      assert.throws(() => fingerprint({ keyId, key: new Uint8Array(32) }, 'secret'), /key id/);
    }
  });

  test('dev keys are derived from their seed and say they are dev keys', () => {
    const a = devRedactionKey('seed-1');
    assert.deepEqual(devRedactionKey('seed-1'), a);
    assert.match(a.keyId, /^dev-[0-9a-f]{8}$/);
    assert.equal(a.key.length, 32);
    assert.notEqual(devRedactionKey('seed-2').keyId, a.keyId);
  });
});
