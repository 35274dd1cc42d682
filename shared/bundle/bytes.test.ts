import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concatBytes, decodeUtf8Strict, equalBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './bytes.ts';

describe('base64 (RFC 4648 §4, strict)', () => {
  test('toBase64 matches Buffer for any bytes, and fromBase64 round trips it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = toBase64(bytes);
        assert.equal(text, Buffer.from(bytes).toString('base64'));
        const back = fromBase64(text);
        assert.ok(back !== undefined, `fromBase64 refused ${text}`);
        assert.deepEqual(back, bytes);
      }),
      { numRuns: 500 },
    );
  });

  test('RFC 4648 §10 test vectors', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      assert.equal(toBase64(utf8(plain)), encoded);
      assert.deepEqual(fromBase64(encoded), utf8(plain));
    }
  });

  test('fromBase64 rejects non-canonical padding bits', () => {
    // "Zg==" is canonical for "f"; "Zh==" .. "Zv==" carry stray bits in the padding.
    for (const text of ['Zh==', 'Zv==', 'Zm9=', 'Zm+=']) assert.equal(fromBase64(text), undefined, text);
    // and any single string that decodes must re-encode to itself
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/]{2,3}$/), (head) => {
        const text = head.length === 2 ? `${head}==` : `${head}=`;
        const decoded = fromBase64(text);
        if (decoded !== undefined) assert.equal(toBase64(decoded), text);
        else assert.notEqual(Buffer.from(text, 'base64').toString('base64'), text);
      }),
      { numRuns: 300 },
    );
  });

  test('fromBase64 rejects lengths that are not a multiple of 4, and misplaced or excess padding', () => {
    for (const text of ['Z', 'Zg', 'Zg=', 'Zm9vY', 'Zm9vYg=', 'Zm9vYg===', '====', '=', 'Zg==Zg==', 'Z=g=', 'Zm=v', 'A===']) {
      assert.equal(fromBase64(text), undefined, JSON.stringify(text));
    }
  });

  test('fromBase64 rejects whitespace anywhere', () => {
    for (const text of [' Zm9v', 'Zm9v ', 'Zm 9v', 'Zm9v\n', 'Zm\r\n9v', '\tZm9v', 'Zm9vYmFy\n'.padEnd(12, ' ')]) {
      assert.equal(fromBase64(text), undefined, JSON.stringify(text));
    }
  });

  test('fromBase64 rejects the url-safe alphabet and other characters', () => {
    // 0xfb 0xff: standard "+/8=", url-safe "-_8="
    assert.deepEqual(fromBase64('+/8='), new Uint8Array([0xfb, 0xff]));
    for (const text of ['-_8=', '-/8=', '+_8=', 'Zm9v\u00e9AAA', 'Zm9v.AAA', 'Zm9v\u0000AAA', 'Zm9v\uff21AAA']) {
      assert.equal(fromBase64(text), undefined, JSON.stringify(text));
    }
  });
});

describe('hex', () => {
  test('round trips any bytes as lowercase hex', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = toHex(bytes);
        assert.equal(text, Buffer.from(bytes).toString('hex'));
        assert.deepEqual(fromHex(text), bytes);
      }),
      { numRuns: 300 },
    );
  });

  test('fromHex rejects odd lengths, non-hex characters and uppercase', () => {
    for (const text of ['0', 'abc', 'zz', '0g', 'AB', ' 00', '00 ', '0x00']) assert.equal(fromHex(text), undefined, text);
    assert.deepEqual(fromHex(''), new Uint8Array(0));
  });
});

describe('decodeUtf8Strict', () => {
  test('decodes valid UTF-8, including 4-byte sequences', () => {
    assert.equal(decodeUtf8Strict(utf8('caf\u00e9 \u{1F600} \u20ac')), 'caf\u00e9 \u{1F600} \u20ac');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        assert.equal(decodeUtf8Strict(utf8(text)), text);
      }),
      { numRuns: 200 },
    );
  });

  test('rejects overlong encodings', () => {
    for (const bytes of [
      [0xc0, 0x80], // NUL in 2 bytes
      [0xc1, 0xbf],
      [0xe0, 0x80, 0xaf], // "/" in 3 bytes
      [0xf0, 0x80, 0x80, 0xaf], // "/" in 4 bytes
    ]) {
      assert.equal(decodeUtf8Strict(new Uint8Array(bytes)), undefined, toHex(new Uint8Array(bytes)));
    }
  });

  test('rejects lone surrogates (ED A0 80 is U+D800) and code points past U+10FFFF', () => {
    for (const bytes of [
      [0xed, 0xa0, 0x80],
      [0xed, 0xbf, 0xbf],
      [0x41, 0xed, 0xa0, 0x80, 0x41],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
    ]) {
      assert.equal(decodeUtf8Strict(new Uint8Array(bytes)), undefined, toHex(new Uint8Array(bytes)));
    }
  });

  test('rejects truncated sequences and stray continuation bytes', () => {
    const euro = utf8('\u20ac'); // e2 82 ac
    const emoji = utf8('\u{1F600}'); // f0 9f 98 80
    for (const bytes of [euro.subarray(0, 1), euro.subarray(0, 2), emoji.subarray(0, 3), concatBytes([utf8('ok'), emoji.subarray(0, 2)]), new Uint8Array([0x80]), new Uint8Array([0xbf, 0x41]), new Uint8Array([0xff])]) {
      assert.equal(decodeUtf8Strict(bytes), undefined, toHex(bytes));
    }
  });
});

describe('equalBytes / concatBytes', () => {
  test('equalBytes compares length and content', () => {
    assert.ok(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
    assert.ok(!equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
    assert.ok(!equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])));
  });

  test('concatBytes joins in order', () => {
    assert.deepEqual(concatBytes([new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])]), new Uint8Array([1, 2, 3]));
  });
});
