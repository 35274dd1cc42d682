import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CAST_ENTRY,
  parseEvent,
  parseHeader,
  roundInterval,
  serializeEvent,
  serializeHeader,
  toAsciicastV2,
  type CastEvent,
  type CastHeader,
  type EventCode,
} from './asciicast.ts';
import { concatBytes, utf8 } from './bytes.ts';
import type { FormatError, FormatErrorCode } from './errors.ts';
import { catchFormatError } from './test-support.ts';
import { parseRecording } from './reader.ts';

function assertLineError(fn: () => unknown, code: FormatErrorCode, line: number, field?: string): FormatError {
  const caught = catchFormatError(fn);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.location.entry, CAST_ENTRY);
  assert.equal(caught.location.line, line, caught.message);
  assert.ok(caught.message.startsWith(`${CAST_ENTRY} line ${line} `), caught.message);
  if (field !== undefined) assert.equal(caught.location.field, field, caught.message);
  return caught;
}

const FULL_HEADER: CastHeader = {
  version: 3,
  term: { cols: 132, rows: 43, type: 'xterm-256color' },
  timestamp: 1_735_689_600,
  command: 'ssh -i key admin@db-prod-1',
  title: 'db-prod-1',
  env: { TERM: 'xterm-256color', SHELL: '/bin/zsh' },
};

describe('asciicast v3 header', () => {
  test('serializeHeader and parseHeader round trip, with and without optional fields', () => {
    assert.deepEqual(parseHeader(serializeHeader(FULL_HEADER)), FULL_HEADER);
    const minimal: CastHeader = { version: 3, term: { cols: 80, rows: 24 } };
    assert.deepEqual(parseHeader(serializeHeader(minimal)), minimal);
  });

  test('version 2 (or anything but 3) is refused as an unknown format version on line 1', () => {
    for (const header of [
      { version: 2, width: 80, height: 24 },
      { version: '3', term: { cols: 80, rows: 24 } },
      { term: { cols: 80, rows: 24 } },
      { version: 4, term: { cols: 80, rows: 24 } },
    ]) {
      const error = assertLineError(() => parseHeader(JSON.stringify(header)), 'unknown-format-version', 1, 'version');
      assert.match(error.message, /only version 3 is supported/);
    }
  });

  test('a header that is not JSON, or not an object, names line 1', () => {
    assertLineError(() => parseHeader('{"version":3,'), 'invalid-json', 1);
    assertLineError(() => parseHeader('[3]'), 'invalid-field', 1, '(header)');
    assertLineError(() => parseHeader('null'), 'invalid-field', 1, '(header)');
  });

  test('each bad header field is named', () => {
    const cases: [unknown, string][] = [
      [{ version: 3 }, 'term'],
      [{ version: 3, term: { rows: 24 } }, 'term.cols'],
      [{ version: 3, term: { cols: 0, rows: 24 } }, 'term.cols'],
      [{ version: 3, term: { cols: 65536, rows: 24 } }, 'term.cols'],
      [{ version: 3, term: { cols: 80.5, rows: 24 } }, 'term.cols'],
      [{ version: 3, term: { cols: 80, rows: '24' } }, 'term.rows'],
      [{ version: 3, term: { cols: 80, rows: 24, type: 7 } }, 'term.type'],
      [{ version: 3, term: { cols: 80, rows: 24 }, timestamp: -1 }, 'timestamp'],
      [{ version: 3, term: { cols: 80, rows: 24 }, timestamp: 'now' }, 'timestamp'],
      [{ version: 3, term: { cols: 80, rows: 24 }, command: ['ls'] }, 'command'],
      [{ version: 3, term: { cols: 80, rows: 24 }, title: 1 }, 'title'],
      [{ version: 3, term: { cols: 80, rows: 24 }, env: [] }, 'env'],
      [{ version: 3, term: { cols: 80, rows: 24 }, env: { TERM: 1 } }, 'env.TERM'],
    ];
    for (const [header, field] of cases) {
      const error = assertLineError(() => parseHeader(JSON.stringify(header)), 'invalid-field', 1, field);
      assert.ok(error.message.includes(`field ${field}`), error.message);
    }
  });
});

describe('asciicast v3 events', () => {
  const eventArb: fc.Arbitrary<CastEvent> = fc.oneof(
    fc.record({ interval: fc.double({ min: 0, max: 1e6, noNaN: true }), code: fc.constantFrom<EventCode>('o', 'i', 'm'), data: fc.string({ unit: 'grapheme', maxLength: 50 }) }),
    fc.record({ interval: fc.double({ min: 0, max: 1e3, noNaN: true }), code: fc.constant<EventCode>('r'), data: fc.tuple(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 9999 })).map(([c, r]) => `${c}x${r}`) }),
    fc.record({ interval: fc.double({ min: 0, max: 1e3, noNaN: true }), code: fc.constant<EventCode>('x'), data: fc.integer({ min: -255, max: 255 }).map(String) }),
  );

  test('serializeEvent and parseEvent round trip any event (interval rounded to the microsecond)', () => {
    fc.assert(
      fc.property(eventArb, fc.integer({ min: 2, max: 1_000_000 }), (event, line) => {
        const parsed = parseEvent(serializeEvent(event), line);
        assert.deepEqual(parsed, { ...event, interval: roundInterval(event.interval) });
      }),
      { numRuns: 300 },
    );
  });

  test('an unknown event code is refused with its line', () => {
    for (const code of ['z', 'O', '', 'output', 1, null]) {
      assertLineError(() => parseEvent(JSON.stringify([0.1, code, 'x']), 7), 'unknown-event-code', 7, 'code');
    }
  });

  test('a negative interval (time running backwards) is refused as non-monotonic time', () => {
    const error = assertLineError(() => parseEvent('[-0.5,"o","x"]', 12), 'non-monotonic-time', 12, 'interval');
    assert.match(error.message, /goes back in time/);
    assertLineError(() => parseEvent('[-1e-9,"i","x"]', 3), 'non-monotonic-time', 3, 'interval');
  });

  test('an interval that is NaN, infinite or not a number is refused', () => {
    // JSON has no NaN: such a line is not JSON at all.
    assertLineError(() => parseEvent('[NaN,"o","x"]', 4), 'invalid-json', 4);
    assertLineError(() => parseEvent('[Infinity,"o","x"]', 4), 'invalid-json', 4);
    assertLineError(() => parseEvent('[1e999,"o","x"]', 4), 'invalid-field', 4, 'interval');
    assertLineError(() => parseEvent('["0.5","o","x"]', 4), 'invalid-field', 4, 'interval');
    assertLineError(() => parseEvent('[null,"o","x"]', 4), 'invalid-field', 4, 'interval');
  });

  test('resize data that is not COLSxROWS is refused', () => {
    for (const data of ['80', '80x', 'x24', '0x24', '80x0', '080x24', '80X24', '80x24 ', ' 80x24', '-80x24', '80x24\n', '123456x24', '80*24', '']) {
      assertLineError(() => parseEvent(JSON.stringify([0.1, 'r', data]), 9), 'invalid-field', 9, 'data');
    }
    assert.equal(parseEvent('[0.1,"r","1x1"]', 9).data, '1x1');
  });

  test('a resize beyond 65535 columns or rows is refused, as in the header', () => {
    // term.cols / term.rows are 1..65535 (a pty winsize is 16-bit); a resize must not exceed them either.
    for (const data of ['65536x24', '80x99999']) {
      assertLineError(() => parseEvent(JSON.stringify([0.1, 'r', data]), 9), 'invalid-field', 9, 'data');
    }
    assert.equal(parseEvent('[0.1,"r","65535x65535"]', 9).data, '65535x65535');
  });

  test('an event that is not a three-element array is refused', () => {
    for (const text of ['[0.1,"o"]', '[0.1,"o","x","extra"]', '[]', '{"interval":0.1,"code":"o","data":"x"}', '"o"', 'null']) {
      assertLineError(() => parseEvent(text, 5), 'invalid-field', 5, '(event)');
    }
  });

  test('data that is not a string, and an exit status that is not a number, are refused', () => {
    assertLineError(() => parseEvent('[0.1,"o",42]', 6), 'invalid-field', 6, 'data');
    assertLineError(() => parseEvent('[0.1,"o",null]', 6), 'invalid-field', 6, 'data');
    assertLineError(() => parseEvent('[0.1,"x","ok"]', 6), 'invalid-field', 6, 'data');
    assertLineError(() => parseEvent('[0.1,"x",""]', 6), 'invalid-field', 6, 'data');
    assert.equal(parseEvent('[0.1,"x","-1"]', 6).data, '-1');
  });

  test('a line that is not JSON names its line', () => {
    assertLineError(() => parseEvent('[0.1,"o","x"', 1841), 'invalid-json', 1841);
  });
});

describe('parseRecording', () => {
  test('parses the header and every event, and reports a torn last line by its length', () => {
    const cast = concatBytes([
      utf8(serializeHeader({ version: 3, term: { cols: 80, rows: 24 } }) + '\n'),
      utf8('[0.5,"o","hi"]\n[0.25,"x","0"]\n'),
      utf8('[0.1,"o","tor'),
    ]);
    const { header, events, tornBytes } = parseRecording(cast);
    assert.deepEqual(header.term, { cols: 80, rows: 24 });
    assert.deepEqual(events, [
      { interval: 0.5, code: 'o', data: 'hi' },
      { interval: 0.25, code: 'x', data: '0' },
    ]);
    assert.equal(tornBytes, 13);
  });

  test('a bad event names its 1-based line in the file', () => {
    const cast = utf8(`${serializeHeader({ version: 3, term: { cols: 80, rows: 24 } })}\n[0.5,"o","a"]\n[0.5,"q","b"]\n`);
    assertLineError(() => parseRecording(cast), 'unknown-event-code', 3, 'code');
  });
});

describe('toAsciicastV2', () => {
  test('writes a v2 header and absolute times, and turns the exit event into a marker', () => {
    const events: CastEvent[] = [
      { interval: 0.1, code: 'o', data: '$ ' },
      { interval: 0.2, code: 'i', data: 'ls\r' },
      { interval: 0.000001, code: 'o', data: 'ls\r\n' },
      { interval: 1.5, code: 'r', data: '100x30' },
      { interval: 0, code: 'm', data: 'redacted:jwt' },
      { interval: 2, code: 'x', data: '130' },
    ];
    const header: CastHeader = { ...FULL_HEADER, timestamp: 1_735_689_600.75 };
    const lines = toAsciicastV2(header, events).split('\n');
    assert.equal(lines.at(-1), '', 'ends in a newline');
    assert.deepEqual(JSON.parse(lines[0]!), {
      version: 2,
      width: 132,
      height: 43,
      timestamp: 1_735_689_600,
      command: 'ssh -i key admin@db-prod-1',
      title: 'db-prod-1',
      env: { TERM: 'xterm-256color', SHELL: '/bin/zsh' },
    });
    assert.deepEqual(
      lines.slice(1, -1).map((l) => JSON.parse(l) as unknown),
      [
        [0.1, 'o', '$ '],
        [0.3, 'i', 'ls\r'],
        [0.300001, 'o', 'ls\r\n'],
        [1.800001, 'r', '100x30'],
        [1.800001, 'm', 'redacted:jwt'],
        [3.800001, 'm', 'exit 130'],
      ],
    );
  });

  test('absolute times never decrease and the last equals the sum of the intervals', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5_000_000 }), { maxLength: 60 }), (micros) => {
        const events: CastEvent[] = micros.map((us) => ({ interval: us / 1e6, code: 'o', data: '.' }));
        const times = toAsciicastV2({ version: 3, term: { cols: 80, rows: 24 } }, events)
          .trimEnd()
          .split('\n')
          .slice(1)
          .map((l) => (JSON.parse(l) as [number])[0]);
        for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!);
        if (times.length > 0) assert.equal(times.at(-1), micros.reduce((a, b) => a + b, 0) / 1e6);
      }),
      { numRuns: 200 },
    );
  });
});
