/* eslint-disable no-control-regex -- terminal escape sequences are made of control characters */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readRegion, type Reading } from './line-view.ts';
import { renderVisible, type VisibleText } from './terminal-view.ts';

/** The reading and the terminal model agree: the same text, the same raw cells under each unit. */
function assertSameReading(reading: Reading, model: VisibleText): void {
  assert.equal(reading.text, model.text);
  for (let i = 0; i < model.text.length; i++) assert.deepEqual(reading.rawIndicesAt(i), model.rawIndicesAt(i), `unit ${i}`);
}

describe('readRegion: lines read without the terminal model read as the model does; margin CRLFs read both ways', () => {
  // A progress line clears its row (`\r`, `ESC [ K`) and writes it again in colour; read plain.
  const clearing = fc.array(fc.constantFrom('\r', '\x1b[K', '\x1b[0K', '\x1b[1K', '\x1b[2K'), { maxLength: 3 });
  const coloured = fc.array(fc.oneof(fc.string({ unit: fc.constantFrom(...'ab #%=[]-_0'), maxLength: 6 }), fc.constantFrom('\x1b[32m', '\x1b[0m', '\x1b[1;34m', '\x1b[m')), { maxLength: 8 });
  const lineEnd = fc.constantFrom('\r\n', '\n', '');

  test('a cleared progress line after another line', () => {
    fc.assert(
      fc.property(clearing, coloured, lineEnd, fc.integer({ min: 2, max: 30 }), (clear, body, end, cols) => {
        const shown = body.join('');
        // A plain line as wide as the row is read approximately (its CRLF may be a soft wrap).
        fc.pre(shown.replace(/\x1b\[[0-9;]*m/g, '').length < cols);
        const region = `d\r\n${clear.join('')}${shown}${end}`;
        const readings = readRegion('', region, cols);
        assert.equal(readings.length, 1);
        assertSameReading(readings[0]!, renderVisible(region, cols));
      }),
      { numRuns: 500 },
    );
  });

  test('a full-width progress line still goes through the model (its CRLF is a soft wrap there)', () => {
    const cols = 10;
    for (const region of [`d\r\n\r\x1b[K${'#'.repeat(cols)}\r\n`, `d\r\n\r\x1b[K${'#'.repeat(cols)}\r\nnext`]) {
      const [soft] = readRegion('', region, cols);
      assertSameReading(soft!, renderVisible(region, cols));
    }
  });

  test('a string sequence across a margin CRLF stays one sequence in both readings', () => {
    // The row before the CRLF may be full (4 columns), so there are two readings; the OSC runs
    // from the first line into the second and hides the CRLF in both.
    const region = 'ab\x1b]0;abcd\r\nxy\x07z\r\nq';
    const readings = readRegion('', region, 4);
    assert.deepEqual(readings.map((reading) => reading.text), ['abz\nq', 'abz\nq']);
    assert.deepEqual(readings[1]!.rawIndicesAt(2), [15]);
  });

  test('the hard reading of a margin CRLF is the soft one with the line end kept', () => {
    const region = 'aaaa\r\nbbbb\r\ncc\r\n';
    const [soft, hard] = readRegion('', region, 4);
    assert.equal(soft!.text, 'aaaabbbbcc\n');
    assert.equal(hard!.text, 'aaaa\nbbbb\ncc\n');
    for (const [reading, i, raw] of [[soft!, 4, 6], [hard!, 5, 6], [hard!, 4, -1]] as const) {
      assert.deepEqual(reading.rawIndicesAt(i), raw < 0 ? [] : [raw]);
    }
    assert.equal(hard!.minRawFrom(4), 6);
  });
});
