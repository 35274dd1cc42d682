import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { knownSecretForms, knownSecretRule, MIN_KNOWN_SECRET_LENGTH } from './known-secrets.ts';

const RUNS = { numRuns: 300 };

/** Secrets as an app injects them: ASCII tokens and passwords, and any Unicode (UTF-8 on the wire). */
const secretArb = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', minLength: MIN_KNOWN_SECRET_LENGTH, maxLength: 40 }),
  fc.string({ unit: 'binary', minLength: MIN_KNOWN_SECRET_LENGTH, maxLength: 24 }),
  fc.string({ unit: 'grapheme', minLength: MIN_KNOWN_SECRET_LENGTH, maxLength: 16 }),
  fc.stringMatching(/^[A-Za-z0-9+/=_-]{4,48}$/),
);
const edgeBytes = fc.uint8Array({ maxLength: 5 });
const edgeText = fc.string({ unit: 'binary', maxLength: 5 });

function containsSomeForm(text: string, forms: readonly string[]): boolean {
  return forms.some((form) => text.includes(form));
}

function lowerHexEscapes(text: string): string {
  return text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
}

describe('knownSecretForms', () => {
  test('produces the value and its base64, base64url, percent, hex and JSON encodings, each at least 4 characters', () => {
    fc.assert(
      fc.property(secretArb, (secret) => {
        const forms = knownSecretForms(secret);
        const bytes = Buffer.from(secret, 'utf8');
        const expected = [
          secret,
          bytes.toString('base64'),
          bytes.toString('base64').replace(/=+$/, ''),
          bytes.toString('base64url'),
          bytes.toString('hex'),
          bytes.toString('hex').toUpperCase(),
          encodeURIComponent(secret),
          lowerHexEscapes(encodeURIComponent(secret)),
          new URLSearchParams({ v: secret }).toString().slice(2),
          lowerHexEscapes(new URLSearchParams({ v: secret }).toString().slice(2)),
          encodeURIComponent(secret).replaceAll('%20', '+'),
          JSON.stringify(secret).slice(1, -1),
        ];
        for (const form of expected) assert.ok(forms.includes(form), `missing form ${JSON.stringify(form)}`);
        assert.equal(new Set(forms).size, forms.length, 'forms are deduplicated');
        for (const form of forms) assert.ok(form.length >= 4, `form ${JSON.stringify(form)} is shorter than 4`);
      }),
      RUNS,
    );
  });

  test('the base64 of the secret at any offset inside a longer stream contains one of its forms (all three alignments)', () => {
    fc.assert(
      fc.property(secretArb, edgeBytes, edgeBytes, (secret, prefix, suffix) => {
        const forms = knownSecretForms(secret);
        const stream = Buffer.concat([prefix, Buffer.from(secret, 'utf8'), suffix]);
        for (const encoded of [stream.toString('base64'), stream.toString('base64url')]) {
          assert.ok(containsSomeForm(encoded, forms), `${encoded} (prefix ${prefix.length} bytes) holds no form`);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('every alignment is exercised: prefixes of 0, 1 and 2 bytes each need their own form', () => {
    const secret = 'correct horse battery staple';
    const forms = knownSecretForms(secret);
    const longestHit = (encoded: string): string =>
      forms.filter((form) => encoded.includes(form)).reduce((a, b) => (b.length > a.length ? b : a), '');
    const hits = [0, 1, 2].map((offset) =>
      longestHit(Buffer.concat([Buffer.alloc(offset, 0xff), Buffer.from(secret), Buffer.alloc(2, 0xff)]).toString('base64')),
    );
    // 28 bytes: ⌊8·28/6⌋ − 0 = 37, ⌊8·29/6⌋ − 2 = 36, ⌊8·30/6⌋ − 3 = 37 characters that depend on the secret alone
    assert.deepEqual(hits.map((hit) => hit.length), [37, 36, 37]);
    assert.equal(new Set(hits).size, 3);
  });

  test('percent-encoded text around the secret contains one of its forms', () => {
    fc.assert(
      fc.property(secretArb, edgeText, edgeText, (secret, prefix, suffix) => {
        const forms = knownSecretForms(secret);
        const whole = prefix + secret + suffix;
        const encodings = [
          encodeURIComponent(whole),
          lowerHexEscapes(encodeURIComponent(whole)),
          new URLSearchParams({ v: whole }).toString().slice(2),
          lowerHexEscapes(new URLSearchParams({ v: whole }).toString().slice(2)),
        ];
        for (const encoded of encodings) assert.ok(containsSomeForm(encoded, forms), encoded);
      }),
      RUNS,
    );
  });

  test('hex of bytes around the secret contains one of its forms, in lower and upper case', () => {
    fc.assert(
      fc.property(secretArb, edgeBytes, edgeBytes, (secret, prefix, suffix) => {
        const forms = knownSecretForms(secret);
        const hex = Buffer.concat([prefix, Buffer.from(secret, 'utf8'), suffix]).toString('hex');
        assert.ok(containsSomeForm(hex, forms));
        assert.ok(containsSomeForm(hex.toUpperCase(), forms));
      }),
      RUNS,
    );
  });

  test('secrets under 4 code points give no forms: they would match ordinary text everywhere', () => {
    for (const secret of ['', 'a', 'ab', 'abc', 'é!😀']) assert.deepEqual(knownSecretForms(secret), [], secret);
    assert.ok(knownSecretForms('abcd').includes('abcd'));
  });

  test('a lone surrogate is matched as the U+FFFD it becomes on the wire', () => {
    const forms = knownSecretForms('pass\uD800word');
    assert.ok(forms.includes('pass\uFFFDword'));
    assert.ok(forms.includes(Buffer.from('pass\uFFFDword').toString('base64')));
  });
});

describe('knownSecretRule', () => {
  test('is undefined when no secret yields a form', () => {
    assert.equal(knownSecretRule([]), undefined);
    assert.equal(knownSecretRule(['abc', '']), undefined);
  });

  test('is a known-secret rule whose keywords are the lower-cased forms', () => {
    const rule = knownSecretRule(['hunter2-Secret', 'token with spaces'])!;
    assert.equal(rule.id, 'known-secret');
    assert.equal(rule.category, 'known-secret');
    assert.equal(rule.secretGroup, 0);
    for (const secret of ['hunter2-Secret', 'token with spaces']) {
      for (const form of knownSecretForms(secret)) assert.ok(rule.keywords.includes(form.toLowerCase()), form);
    }
    for (const keyword of rule.keywords) assert.equal(keyword, keyword.toLowerCase());
  });

  test('its RE2 pattern compiles and matches every form, in text, for any secrets', () => {
    fc.assert(
      fc.property(fc.array(secretArb, { minLength: 1, maxLength: 3 }), (secrets) => {
        const rule = knownSecretRule(secrets)!;
        const re = RE2JS.compile(rule.pattern);
        for (const secret of secrets) {
          for (const form of knownSecretForms(secret)) {
            assert.ok(re.matches(form), `pattern does not match form ${JSON.stringify(form)}`);
            const text = `before ${form} after`;
            const matcher = re.matcher(text);
            let masked = '';
            let last = 0;
            while (matcher.find()) {
              masked += text.slice(last, matcher.start()) + '*'.repeat(matcher.end() - matcher.start());
              last = matcher.end();
            }
            masked += text.slice(last);
            assert.ok(!masked.includes(form), `form ${JSON.stringify(form)} survives in ${JSON.stringify(masked)}`);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  test('prefers the longest form, so padded base64 is masked whole', () => {
    const rule = knownSecretRule(['password'])!;
    const matcher = RE2JS.compile(rule.pattern).matcher('data: cGFzc3dvcmQ=\n');
    assert.ok(matcher.find());
    assert.equal(matcher.group(), 'cGFzc3dvcmQ=');
  });

  test('hex matches in any case; the value itself only in its own case', () => {
    const rule = knownSecretRule(['Hunter2-Secret'])!;
    const re = RE2JS.compile(rule.pattern);
    const hex = Buffer.from('Hunter2-Secret').toString('hex');
    const mixed = [...hex].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('');
    assert.ok(re.matcher(`x=${mixed}`).find());
    assert.ok(re.matcher('Hunter2-Secret').find());
    assert.ok(!re.matcher('hunter2-secret HUNTER2-SECRET').find());
  });

  test('regex metacharacters and control characters in a secret are literals', () => {
    const secret = 'a.b*c(d)[e]{1}|^$\\\t\u0001?+';
    const re = RE2JS.compile(knownSecretRule([secret])!.pattern);
    assert.ok(re.matcher(`x${secret}y`).find());
    assert.ok(!re.matcher('aXb*c(d)[e]{1}|^$\\\t\u0001?+').find());
  });
});
