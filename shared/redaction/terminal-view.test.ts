import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { incompleteTail, maskRaw, renderVisible, type VisibleText } from './terminal-view.ts';

const ESC = '\x1b';
const SGR_RED = `${ESC}[31m`;
const SGR_RESET = `${ESC}[0m`;

/** Escape sequences as they appear on the wire (CSI, OSC ended by BEL or ST, two-character escapes). */
// eslint-disable-next-line no-control-regex -- control characters are what this matches
const ESCAPE_SEQUENCE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]/g;

function escapesOf(raw: string): string[] {
  return raw.match(ESCAPE_SEQUENCE) ?? [];
}

function withoutEscapes(raw: string): string {
  return raw.replace(ESCAPE_SEQUENCE, '');
}

/** Renders `raw`, finds `secret` in what the user sees, and masks it. */
function maskSecret(raw: string, cols: number, secret: string): { view: VisibleText; masked: string } {
  const view = renderVisible(raw, cols);
  const start = view.text.indexOf(secret);
  assert.notEqual(start, -1, `${JSON.stringify(secret)} is not visible in ${JSON.stringify(view.text)}`);
  return { view, masked: maskRaw(raw, view, [{ start, end: start + secret.length }]) };
}

describe('renderVisible: what the user sees', () => {
  test('plain lines are split on CRLF and on a bare LF', () => {
    assert.equal(renderVisible('hello\r\nworld\nagain', 80).text, 'hello\nworld\nagain');
  });

  test('colour codes inside a word are invisible', () => {
    assert.equal(renderVisible(`gh${SGR_RED}p_abc${ESC}[1;38;5;208mdef${SGR_RESET} rest`, 80).text, 'ghp_abcdef rest');
  });

  test('cursor moves: back, forward, column', () => {
    assert.equal(renderVisible(`abcdef${ESC}[3DX${ESC}[1CY`, 80).text, 'abcXeY');
    assert.equal(renderVisible(`abcdef${ESC}[2GZ`, 80).text, 'aZcdef');
    assert.equal(renderVisible(`ab${ESC}[3Cc`, 80).text, 'ab   c', 'cells skipped over read as spaces');
  });

  test('echo corrected with "\\b \\b" shows only the kept characters', () => {
    assert.equal(renderVisible('sx\b \bec\x7fr', 80).text, 'secr');
    assert.equal(renderVisible('pass\b \b\b \b', 80).text, 'pa  ', 'erased cells that were written with spaces stay spaces');
  });

  test('overwriting after a backspace keeps every character ever written into the cell', () => {
    const raw = 'abX\b \bc';
    const view = renderVisible(raw, 80);
    assert.equal(view.text, 'abc');
    assert.deepEqual(view.rawIndicesAt(2), [2, 4, 6]);
    assert.equal(maskRaw(raw, view, [{ start: 2, end: 3 }]), 'ab*\b*\b*');
  });

  test('erase in line: to the end, to the start, the whole line', () => {
    assert.equal(renderVisible(`abcdef${ESC}[3D${ESC}[K`, 80).text, 'abc');
    assert.equal(renderVisible(`abcdef${ESC}[3D${ESC}[0K!`, 80).text, 'abc!');
    assert.equal(renderVisible(`abcdef${ESC}[3D${ESC}[1K`, 80).text, '    ef');
    assert.equal(renderVisible(`abcdef${ESC}[2Kxy`, 80).text, '      xy');
  });

  test('delete and insert characters shift the rest of the row', () => {
    assert.equal(renderVisible(`abcdef${ESC}[5D${ESC}[2P`, 80).text, 'adef');
    assert.equal(renderVisible(`abcdef${ESC}[5D${ESC}[2@XY`, 80).text, 'aXYbcdef');
    assert.equal(renderVisible(`abcdef${ESC}[4D${ESC}[2@`, 6).text, 'a  bcd', 'characters pushed past the margin are gone');
  });

  test('readline soft wrap with "\\r\\n" at the margin joins the rows', () => {
    const view = renderVisible('export TOKEN=ghp_ab\r\ncdef\r\nnext', 19);
    assert.equal(view.text, 'export TOKEN=ghp_abcdef\nnext');
  });

  test('readline soft wrap with " \\r" at the margin joins the rows, the space overwritten', () => {
    const raw = 'export TOKEN=ghp_ab \rcdef';
    const view = renderVisible(raw, 19);
    assert.equal(view.text, 'export TOKEN=ghp_abcdef');
    assert.deepEqual(view.rawIndicesAt(19), [19, 21], 'the wrap space and the character that replaced it');
  });

  test('a colour reset between the last column and the CRLF still wraps softly', () => {
    assert.equal(renderVisible(`abc${SGR_RESET}\r\ndef`, 3).text, 'abcdef');
  });

  test('CRLF before the margin is a line break', () => {
    assert.equal(renderVisible('ab\r\ncd', 3).text, 'ab\ncd');
  });

  test('autowrap continues the logical line on a new row', () => {
    const view = renderVisible('abcdefghij\r\nk', 4);
    assert.equal(view.text, 'abcdefghij\nk');
    assert.deepEqual(view.rawIndicesAt(4), [4]);
  });

  test('\\r after autowrap returns to the start of the new row only', () => {
    assert.equal(renderVisible('abcdef\rX', 4).text, 'abcdXf');
  });

  test('wide characters take two cells and are masked as "**"', () => {
    const raw = `id 密码${SGR_RED}秘${SGR_RESET}x`;
    const { view, masked } = maskSecret(raw, 80, '密码秘');
    assert.equal(view.text, 'id 密码秘x');
    assert.equal(masked, `id ****${SGR_RED}**${SGR_RESET}x`);
  });

  test('a wide character that meets the last column wraps early and its mask keeps the cursor where it was', () => {
    const raw = 'abc中d';
    const view = renderVisible(raw, 4);
    assert.equal(view.text, 'abc中d');
    const masked = maskRaw(raw, view, [{ start: 3, end: 4 }]);
    assert.equal(masked, 'abc***d');
    assert.equal(renderVisible(`${masked}\rZ`, 4).text, 'abc*Z*d', 'the "d" stays in the third cell of the second row');
    assert.equal(renderVisible(`${raw}\rZ`, 4).text, 'abcZ d');
  });

  test('emoji are wide', () => {
    const view = renderVisible('ab🔑cd', 4);
    assert.equal(view.text, 'ab🔑cd');
    assert.equal(maskRaw('ab🔑cd', view, [{ start: 2, end: 4 }]), 'ab**cd');
  });

  test('combining marks join the previous cell and vanish from the mask', () => {
    const raw = 'cafe\u0301 ok';
    const view = renderVisible(raw, 80);
    assert.equal(view.text, 'cafe\u0301 ok');
    assert.deepEqual(view.rawIndicesAt(4), [3, 4]);
    assert.equal(maskRaw(raw, view, [{ start: 0, end: 5 }]), '**** ok');
  });

  test('OSC window titles, DCS strings and two-character escapes are invisible', () => {
    const raw = `${ESC}]0;user@host: ~${'\x07'}a${ESC}]2;t${ESC}\\b${ESC}Pq#0${ESC}\\c${ESC}(B${ESC}=d`;
    assert.equal(renderVisible(raw, 80).text, 'abcd');
  });

  test('save and restore the cursor', () => {
    assert.equal(renderVisible(`ab${ESC}7cd${ESC}8X`, 80).text, 'abXd');
    assert.equal(renderVisible(`ab${ESC}[scd${ESC}[uX`, 80).text, 'abXd');
  });

  test('tabs move to the next multiple of 8 without writing', () => {
    const view = renderVisible('a\tb\tc', 80);
    assert.equal(view.text, 'a       b       c');
    assert.deepEqual(view.rawIndicesAt(1), []);
    assert.equal(renderVisible('abcdefgh\tX', 10).text, 'abcdefgh X', 'stops at the last column');
  });

  test('absolute positioning opens a fresh row at the requested column', () => {
    assert.equal(renderVisible(`prompt$ ${ESC}[5;3Hsecret${ESC}[H`, 80).text, 'prompt$ \n  secret\n');
  });

  test('the "\\n"s between lines map to no raw character', () => {
    const view = renderVisible('a\r\nb', 80);
    assert.deepEqual(view.rawIndicesAt(1), []);
    assert.throws(() => view.rawIndicesAt(3), /visible index 3 is outside the text \(length 3\)/);
  });

  test('a width that is not a positive whole number is refused', () => {
    assert.throws(() => renderVisible('x', 0), /terminal width must be a positive whole number of columns, got 0/);
  });
});

describe('incompleteTail: a chunk that ends inside an escape sequence', () => {
  test('reports where the unfinished sequence begins', () => {
    assert.equal(incompleteTail('ab'), 2);
    assert.equal(incompleteTail(`ab${ESC}`), 2);
    assert.equal(incompleteTail(`ab${ESC}[38;5`), 2);
    assert.equal(incompleteTail(`ab${ESC}]0;title`), 2);
    assert.equal(incompleteTail(`ab${ESC}]0;title${ESC}`), 2);
    assert.equal(incompleteTail(`ab${ESC}(`), 2);
    assert.equal(incompleteTail(`ab${ESC}[31mcd`), 9);
    assert.equal(incompleteTail(`a${ESC}]0;t\x07b`), 8);
    assert.equal(incompleteTail('key 🔑'.slice(0, -1)), 4, 'a high surrogate waits for its low half');
  });

  test('every cut of a coloured, wrapped token renders a prefix of the final text and no escape debris', () => {
    const raw = `tok${ESC}[1;31men: gh${ESC}]0;x\x07p_a${ESC}[0m\r\nbc${ESC}[K`;
    const full = renderVisible(raw, 12).text;
    assert.equal(full, 'token: ghp_abc');
    for (let cut = 0; cut <= raw.length; cut++) {
      const chunk = raw.slice(0, cut);
      const tail = incompleteTail(chunk);
      assert.ok(tail === cut || chunk[tail] === ESC, `cut ${cut}: pending tail starts at ${tail}`);
      const text = renderVisible(chunk, 12).text;
      assert.ok(full.startsWith(text), `cut ${cut}: ${JSON.stringify(text)} is not a prefix of ${JSON.stringify(full)}`);
    }
  });
});

describe('maskRaw: the raw stream with the secret hidden', () => {
  test('escape sequences inside the secret are kept byte for byte', () => {
    const raw = `token: gh${SGR_RED}p_ab${ESC}[1C${ESC}[Dcd${SGR_RESET} ok`;
    const { masked } = maskSecret(raw, 80, 'ghp_abcd');
    assert.equal(masked, `token: **${SGR_RED}****${ESC}[1C${ESC}[D**${SGR_RESET} ok`);
  });

  test('a secret soft-wrapped by readline is masked on both rows, the wrap kept', () => {
    // The wrap space lands in the cell that "c" then takes: it is masked with it.
    const raw = 'export T=ghp_ab \rcdef\r\n$ ';
    const { masked } = maskSecret(raw, 15, 'ghp_abcdef');
    assert.equal(masked, 'export T=*******\r****\r\n$ ');
  });

  test('a secret typed with corrections masks the wrong keys and their erasing spaces too', () => {
    const raw = 'Password: hunX\b \bter2\r\n';
    const { masked } = maskSecret(raw, 80, 'hunter2');
    assert.equal(masked, 'Password: ****\b*\b****\r\n');
  });

  test('a view of a prefix masks within that prefix', () => {
    const raw = `ab${ESC}[3`;
    const view = renderVisible(raw, 80);
    assert.equal(maskRaw(raw, view, [{ start: 0, end: 2 }]), `**${ESC}[3`);
  });

  test('spans outside the text are refused', () => {
    const view = renderVisible('abc', 80);
    assert.throws(() => maskRaw('abc', view, [{ start: 2, end: 4 }]), /span \[2, 4\) is not inside the visible text \(length 3\)/);
  });
});

// ---------------------------------------------------------------------------------------------
// The property: a secret, coloured, corrected and wrapped the way shells and readline do it.

const SECRET_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'];
/** Disjoint from the secret's alphabet, so that only the secret can match it. */
const SURROUNDING_CHARS = [...' .,:;=/#!?()éü→中文密'];

type Owner = 'secret' | 'other';

/** Writes a line the way a program that knows the terminal width does, and remembers who wrote each raw unit. */
class Emitter {
  raw = '';
  readonly owners: Owner[] = [];
  private col = 0;
  private readonly cols: number;
  private readonly wrapStyles: readonly ('crlf' | 'space-cr' | 'autowrap')[];
  private wraps = 0;

  constructor(cols: number, wrapStyles: readonly ('crlf' | 'space-cr' | 'autowrap')[]) {
    this.cols = cols;
    this.wrapStyles = wrapStyles;
  }

  private push(text: string, owner: Owner): void {
    this.raw += text;
    for (let i = 0; i < text.length; i++) this.owners.push(owner);
  }

  invisible(text: string): void {
    this.push(text, 'other');
  }

  /** Makes room for a character `width` cells wide; a wrap's own printable characters belong to `owner`. */
  makeRoom(width: number, owner: Owner): void {
    if (this.col === this.cols) {
      const style = this.wrapStyles[this.wraps++ % this.wrapStyles.length] ?? 'autowrap';
      if (style === 'crlf') this.push('\r\n', 'other');
      if (style === 'space-cr') {
        this.push(' ', owner); // lands in the next row's first cell, which the next character takes
        this.push('\r', 'other');
      }
      this.col = 0;
    } else if (this.col + width > this.cols) {
      this.col = 0; // a wide character at the last column: the terminal wraps it early
    }
  }

  print(ch: string, owner: Owner): void {
    const width = /[中文密]/.test(ch) ? 2 : 1;
    this.makeRoom(width, owner);
    this.push(ch, owner);
    this.col += width;
  }

  /** A wrong key and its correction; only where the echo does not reach the margin. */
  typo(wrong: string): boolean {
    this.makeRoom(1, 'secret');
    if (this.col >= this.cols - 1) return false;
    this.push(wrong, 'secret');
    this.push('\b', 'other');
    this.push(' ', 'secret');
    this.push('\b', 'other');
    return true;
  }

  newline(): void {
    // A line exactly as wide as the terminal followed by CRLF reads as soft-wrapped; keep lines apart.
    if (this.col === this.cols) this.print(' ', 'other');
    this.push('\r\n', 'other');
    this.col = 0;
  }
}

const invisibleSequence = fc.oneof(
  fc.integer({ min: 0, max: 107 }).map((n) => `${ESC}[${n}m`),
  fc.integer({ min: 0, max: 255 }).map((n) => `${ESC}[38;5;${n}m`),
  fc.constant(`${ESC}[0m`),
  fc.constant(`${ESC}[?25l`),
  fc.constant(`${ESC}[?2004h`),
  fc.string({ unit: fc.constantFrom(...SURROUNDING_CHARS), maxLength: 8 }).map((t) => `${ESC}]0;${t}\x07`),
  fc.constant(`${ESC}(B`),
);

const surrounding = fc.string({ unit: fc.constantFrom(...SURROUNDING_CHARS), maxLength: 40 });

const scenario = fc.record({
  secret: fc.string({ unit: fc.constantFrom(...SECRET_CHARS), minLength: 20, maxLength: 60 }),
  linesBefore: fc.array(surrounding, { maxLength: 2 }),
  before: surrounding,
  after: surrounding,
  linesAfter: fc.array(surrounding, { maxLength: 2 }),
  cols: fc.integer({ min: 4, max: 100 }),
  wrapStyles: fc.array(fc.constantFrom('crlf' as const, 'space-cr' as const, 'autowrap' as const), { minLength: 1, maxLength: 4 }),
  // Per secret character: escape sequences before it, and a wrong key typed first (or none).
  decorations: fc.array(
    fc.record({
      escapes: fc.array(invisibleSequence, { maxLength: 2 }),
      wrongKey: fc.option(fc.constantFrom(...SECRET_CHARS), { freq: 4 }),
    }),
    { minLength: 60, maxLength: 60 },
  ),
  cut: fc.nat(),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario): Emitter {
  const emitter = new Emitter(s.cols, s.wrapStyles);
  for (const line of s.linesBefore) {
    for (const ch of line) emitter.print(ch, 'other');
    emitter.newline();
  }
  for (const ch of s.before) emitter.print(ch, 'other');
  [...s.secret].forEach((ch, i) => {
    const { escapes, wrongKey } = s.decorations[i] ?? { escapes: [], wrongKey: null };
    for (const seq of escapes) emitter.invisible(seq);
    if (wrongKey !== null) emitter.typo(wrongKey);
    emitter.print(ch, 'secret');
  });
  emitter.invisible(SGR_RESET);
  for (const ch of s.after) emitter.print(ch, 'other');
  for (const line of s.linesAfter) {
    emitter.newline();
    for (const ch of line) emitter.print(ch, 'other');
  }
  return emitter;
}

describe('property: a coloured, corrected, wrapped secret', () => {
  test('is visible contiguously, and masking it leaves nothing of it and changes nothing else', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { raw, owners } = build(s);
        const { masked } = maskSecret(raw, s.cols, s.secret);

        const plain = withoutEscapes(masked);
        assert.ok(!plain.includes(s.secret), 'the secret survives masking');
        for (let i = 0; i + 5 <= s.secret.length; i++) {
          const window = s.secret.slice(i, i + 5);
          assert.ok(!plain.includes(window), `the fragment ${JSON.stringify(window)} survives masking`);
        }

        assert.deepEqual(escapesOf(masked), escapesOf(raw), 'escape sequences changed');

        assert.equal(masked.length, raw.length);
        owners.forEach((owner, i) => {
          if (owner === 'secret') assert.equal(masked[i], '*', `raw index ${i} (${JSON.stringify(raw[i])}) was written into a secret cell`);
          else assert.equal(masked[i], raw[i], `raw index ${i} (${JSON.stringify(raw[i])}) is outside the secret`);
        });

        // A chunk that ends anywhere renders without escape debris.
        const cut = s.cut % (raw.length + 1);
        const chunk = raw.slice(0, cut);
        const tail = incompleteTail(chunk);
        assert.ok(tail === cut || chunk[tail] === ESC);
        const text = renderVisible(chunk, s.cols).text;
        assert.ok(!text.includes(ESC) && !text.includes('[') && !text.includes(']'), `escape debris in ${JSON.stringify(text)}`);
      }),
      { numRuns: 500 },
    );
  });
});

describe('property: any input', () => {
  const unit = fc.constantFrom(
    ESC, '[', ']', '\\', '?', ';', '1', '2', '3', 'm', 'K', 'P', '@', 'D', 'C', 'G', 'H', 'A', '7', '8',
    '\b', '\r', '\n', '\t', '\x07', '\x18', ' ', 'a', 'b', '中', '\u0301', '🔑', '\ud83d',
  );

  test('masking everything visible leaves nothing visible and keeps every control character', () => {
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 80 }), fc.integer({ min: 1, max: 12 }), (raw, cols) => {
        const view = renderVisible(raw, cols);
        const masked = maskRaw(raw, view, [{ start: 0, end: view.text.length }]);
        assert.match(renderVisible(masked, cols).text, /^[* \n]*$/);
        const controls = (text: string): string => [...text].filter((ch) => ch < ' ').join('');
        assert.equal(controls(masked), controls(raw));
      }),
      { numRuns: 1000 },
    );
  });
});
