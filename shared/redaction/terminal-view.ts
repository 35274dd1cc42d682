/**
 * What the user sees, and where it came from.
 *
 * Secrets reach the record path as terminal output: coloured in the middle
 * (`gh\x1b[31mp_…`), wrapped at the margin, echoed a key at a time and
 * corrected with backspaces. Detection has to run on the screen, masking on
 * the raw stream. This module is a small terminal model (xterm semantics for
 * the subset below) that renders raw text into visible lines, remembers for
 * every visible cell which raw characters were ever written into it, and masks
 * those characters in the raw text one `*` per cell, so that a replay moves
 * the cursor exactly as the original did. Escape sequences and control
 * characters are never touched.
 *
 * Modelled:
 * - printable characters write at the cursor and advance; East Asian Wide and
 *   Fullwidth characters and emoji take two cells; combining marks and other
 *   zero-width characters join the previous cell;
 * - autowrap with xterm's pending-wrap state: the character that fills the last
 *   column leaves the cursor there, and the next one continues on a new visual
 *   row of the same logical line (no "\n" in `text`);
 * - `\r\n` written while a wrap is pending (the row is full) is also a soft
 *   wrap: some programs and readline wrap that way. Readline's other habit,
 *   ` \r` at the margin, needs no special case: the space autowraps and the
 *   next character overwrites it;
 * - `\r`, `\n` (also `\v`, `\f`; it implies `\r`, as a pty's ONLCR does), `\b`
 *   (no reverse wrap), `\t` (stops every 8 columns); other C0 and all C1
 *   controls are ignored;
 * - CSI: cursor up/down/forward/back `A B C D`, next/previous line `E F`,
 *   column `G` and `` ` ``, forward `a`, erase in line `K` (0/1/2), erase
 *   characters `X`, delete characters `P`, insert characters `@`, save and
 *   restore `s u` (and `ESC 7`, `ESC 8`). Absolute positioning (`H`, `f`, `d`)
 *   cannot be placed without knowing where the screen starts, so it opens a
 *   fresh row at the requested column: text drawn by a full-screen program
 *   stays readable and contiguous per write. Every other CSI (SGR `m`, modes,
 *   erase in display…) is invisible and moves nothing;
 * - OSC (ended by BEL or ST), DCS, SOS, PM and APC strings (ended by ST), and
 *   `ESC` + intermediates + final are invisible. CAN and SUB abort a sequence,
 *   and an ESC inside one ends it and starts the next (VT500 parser).
 *
 * Not modelled, knowingly: scroll regions, the alternate screen, insert mode
 * (IRM), reverse wrap, 8-bit C1 introducers (U+009B is not a CSI), grapheme
 * clusters beyond "zero-width joins the previous cell" (a ZWJ emoji sequence
 * is several wide cells here), and text-presentation emoji widened by U+FE0F.
 * Masks are one "*" per cell, so the cursor lands where it did: a wide
 * character is "**", a combining mark vanishes, and a wide character that met
 * the last column and wrapped early is "***" (the star in the skipped last
 * cell makes the other two wrap as the original did).
 *
 * A line that is exactly `cols` wide and ends in `\r\n` reads as soft-wrapped
 * into the next line: on the wire it is indistinguishable from a program's
 * margin wrap. Text erased before the end of the raw text (typed, then
 * backspaced away) is not in `text`, so it is not detected here, but a cell's
 * history is masked along with whatever is later detected in it. OSC payloads
 * (window titles, which shells often set to the running command line) are
 * invisible here and must be scanned by the caller if they matter.
 *
 * Cost: linear in the raw text, a few MB/s (every cell keeps its history), so
 * the streaming layer should render its held-back window, not the whole stream.
 */

export interface VisibleText {
  /** What the user sees, line by line joined with "\n"; soft-wrapped lines are joined WITHOUT "\n". */
  readonly text: string;
  /**
   * For each UTF-16 unit of `text`, the raw indices of every printable character
   * ever written into that cell, in raw order (a cell overwritten after a
   * backspace keeps both). A wide character's unit covers both of its cells. The
   * "\n"s between lines were added by the model and map to no raw character.
   */
  rawIndicesAt(visibleIndex: number): readonly number[];
  /**
   * The mask for the printable character `cp` at raw `index`: one "*" per cell it takes (see
   * RenderedText#maskFor for a wide character that wrapped early). Absent: one per cellWidth.
   */
  maskFor?(cp: number, index: number): string;
}

/** [start, end) in UTF-16 units of `VisibleText.text`. */
export interface VisibleSpan {
  readonly start: number;
  readonly end: number;
}

const ESC = 0x1b;
const BEL = 0x07;
const CAN = 0x18;
const SUB = 0x1a;
const ST_C1 = 0x9c;
const TAB_STOP = 8;

/**
 * One visual row, a column per array index (arrays of small values rather than
 * an object per cell: a long output has millions of cells).
 */
interface Row {
  /** The character each cell shows (a code point and any marks joined to it); '' when blank or the right half of a wide character. */
  readonly text: string[];
  /** 1; 2 for the left half of a wide character; 0 for its right half. */
  readonly width: number[];
  /** Raw index of the first printable character ever written into each cell; -1 for none. */
  readonly first: number[];
  /** The raw indices after the first, for cells written more than once, in raw order. */
  more: Map<number, number[]> | undefined;
  /** Autowrap (or a margin `\r\n`) continued this row into the next one: same logical line. */
  wrapped: boolean;
}

function blankRow(): Row {
  return { text: [], width: [], first: [], more: undefined, wrapped: false };
}

/** Every raw index ever written into cell `c`, in raw order. */
function history(row: Row, c: number): number[] {
  const first = row.first[c] ?? -1;
  if (first === -1) return [];
  const more = row.more?.get(c);
  return more === undefined ? [first] : [first, ...more];
}

function record(row: Row, c: number, index: number): void {
  if (row.first[c] === -1) {
    row.first[c] = index;
    return;
  }
  row.more ??= new Map();
  const more = row.more.get(c);
  if (more === undefined) row.more.set(c, [index]);
  else if (more[more.length - 1] !== index) more.push(index);
}

/** Removes `deleted` cells at `at` and inserts `inserted` blank ones there, histories moving with their cells. */
function spliceCells(row: Row, at: number, deleted: number, inserted: number): void {
  const blanks = (value: string | number): never[] => Array.from({ length: inserted }, () => value) as never[];
  row.text.splice(at, deleted, ...blanks(''));
  row.width.splice(at, deleted, ...blanks(1));
  row.first.splice(at, deleted, ...blanks(-1));
  if (row.more === undefined) return;
  const moved = new Map<number, number[]>();
  for (const [c, more] of row.more) {
    if (c < at) moved.set(c, more);
    else if (c >= at + deleted) moved.set(c - deleted + inserted, more);
  }
  row.more = moved;
}

// ---------------------------------------------------------------------------------------------
// Cell widths (after Markus Kuhn's wcwidth, with Unicode's East_Asian_Width W/F ranges and
// Emoji_Presentation for pictographs). JavaScript regexes have no East_Asian_Width property.

const WIDE_RANGES: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2329, 0x232a],
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff], // Tangut
  [0x1b000, 0x1b2ff], // Kana supplement, extended
  [0x20000, 0x2fffd], // CJK extensions B…
  [0x30000, 0x3fffd],
];

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}$/u;

/** Cells a printable code point occupies: 0 joins the previous cell. */
export function cellWidth(cp: number): 0 | 1 | 2 {
  if (cp < 0x300) return 1;
  if (cp >= 0x1160 && cp <= 0x11ff) return 0; // Hangul Jamo medial vowels and final consonants
  for (const [lo, hi] of WIDE_RANGES) {
    if (cp < lo) break;
    if (cp <= hi) return 2;
  }
  if (cp >= 0xd800 && cp <= 0xdfff) return 1; // a lone surrogate shows as one replacement cell
  const ch = String.fromCodePoint(cp);
  if (ZERO_WIDTH.test(ch)) return 0;
  if (EMOJI_PRESENTATION.test(ch)) return 2;
  return 1;
}

function isPrintable(cp: number): boolean {
  return cp >= 0x20 && cp !== 0x7f && (cp < 0x80 || cp > 0x9f);
}

/** The code point at `i` and how many UTF-16 units it takes; a trailing high surrogate is reported as incomplete (0). */
function codePointAt(raw: string, i: number): { cp: number; units: 0 | 1 | 2 } {
  const unit = raw.charCodeAt(i);
  if (unit >= 0xd800 && unit <= 0xdbff) {
    if (i + 1 >= raw.length) return { cp: unit, units: 0 };
    const low = raw.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) return { cp: ((unit - 0xd800) << 10) + (low - 0xdc00) + 0x10000, units: 2 };
  }
  return { cp: unit, units: 1 };
}

// ---------------------------------------------------------------------------------------------
// Escape sequences. `sequenceEnd` returns where the sequence starting with ESC at `start` ends
// (exclusive), or -1 when `raw` ends before it does.

const INCOMPLETE = -1;

function sequenceEnd(raw: string, start: number): number {
  const n = raw.length;
  if (start + 1 >= n) return INCOMPLETE;
  const kind = raw.charCodeAt(start + 1);
  switch (kind) {
    case 0x5b: // '[' CSI: parameters 0x30–0x3F, intermediates 0x20–0x2F, final 0x40–0x7E
      for (let i = start + 2; i < n; i++) {
        const c = raw.charCodeAt(i);
        if (c >= 0x40 && c <= 0x7e) return i + 1;
        if (c >= 0x20 && c <= 0x3f) continue;
        if (c === CAN || c === SUB) return i + 1;
        return i; // malformed: the sequence ends here, this character is read normally
      }
      return INCOMPLETE;
    case 0x5d: // ']' OSC
    case 0x50: // 'P' DCS
    case 0x58: // 'X' SOS
    case 0x5e: // '^' PM
    case 0x5f: // '_' APC
      for (let i = start + 2; i < n; i++) {
        const c = raw.charCodeAt(i);
        if ((c === BEL && kind === 0x5d) || c === ST_C1 || c === CAN || c === SUB) return i + 1;
        if (c === ESC) {
          if (i + 1 >= n) return INCOMPLETE;
          // ESC \ is the string terminator; any other ESC ends the string and begins a new sequence.
          return raw.charCodeAt(i + 1) === 0x5c ? i + 2 : i;
        }
      }
      return INCOMPLETE;
    default: // ESC, intermediates 0x20–0x2F, final 0x30–0x7E (`ESC 7`, `ESC ( B`)
      for (let i = start + 1; i < n; i++) {
        const c = raw.charCodeAt(i);
        if (c >= 0x20 && c <= 0x2f) continue;
        if (c >= 0x30 && c <= 0x7e) return i + 1;
        if (c === CAN || c === SUB) return i + 1;
        return i; // a lone ESC: dropped, the next character is read normally
      }
      return INCOMPLETE;
  }
}

/**
 * Where an unfinished escape sequence (or a high surrogate waiting for its low
 * half) begins at the end of `raw`, or `raw.length` when nothing is pending.
 * `renderVisible` renders only `raw.slice(0, incompleteTail(raw))`; a streaming
 * caller holds the rest back until more text arrives. An unterminated OSC or
 * DCS keeps its whole tail pending, so the caller's holdback bound must apply.
 */
export function incompleteTail(raw: string): number {
  // Found from the end, so that the cost does not grow with the text. An unfinished sequence
  // runs to the end, and every sequence stops at the first ESC after its own (a string takes
  // the ESC of its `ESC \` terminator, which read alone is a finished sequence too): so only the
  // last ESC can start one, or, when that ESC is the final unit, a string opened by the ESC
  // before it. Reading forward from the first ESC finds the same.
  const lastEscape = raw.lastIndexOf('\x1b');
  if (lastEscape >= 0) {
    if (lastEscape === raw.length - 1) {
      const before = lastEscape > 0 ? raw.lastIndexOf('\x1b', lastEscape - 1) : -1;
      return before >= 0 && sequenceEnd(raw, before) === INCOMPLETE ? before : lastEscape;
    }
    if (sequenceEnd(raw, lastEscape) === INCOMPLETE) return lastEscape;
  }
  const last = raw.length - 1;
  if (last >= 0) {
    const unit = raw.charCodeAt(last);
    if (unit >= 0xd800 && unit <= 0xdbff) return last;
  }
  return raw.length;
}

/** Numeric CSI parameters; '' or a missing one is `undefined`. Sub-parameters (`:`) are dropped. */
function csiParams(body: string): (number | undefined)[] {
  if (body === '') return [];
  return body.split(';').map((p) => {
    const main = p.split(':')[0] ?? '';
    return main === '' ? undefined : Number.parseInt(main, 10);
  });
}

// ---------------------------------------------------------------------------------------------
// The screen.

class Screen {
  readonly cols: number;
  readonly rows: Row[] = [blankRow()];
  row = 0;
  col = 0;
  /** xterm's pending wrap: the last column was just written, the cursor still sits on it. */
  wrapPending = false;
  /** A `\r` arrived while a wrap was pending: a `\n` right after it is a soft wrap. */
  marginReturn = false;
  saved: { row: number; col: number } = { row: 0, col: 0 };
  /** Raw indices of wide characters that met the last column and wrapped, leaving it untouched. */
  readonly wideWrappedEarly = new Set<number>();

  constructor(cols: number) {
    this.cols = cols;
  }

  /** Makes sure the row has cells up to `col`. */
  private reach(row: Row, col: number): void {
    while (row.text.length <= col) {
      row.text.push('');
      row.width.push(1);
      row.first.push(-1);
    }
  }

  private current(): Row {
    return this.rows[this.row] as Row;
  }

  private moveToRow(target: number): void {
    while (this.rows.length <= target) this.rows.push(blankRow());
    this.row = target;
  }

  /** Erase a cell's content; its history stays, so a later mask still covers what it showed. */
  private blank(row: Row, c: number): void {
    row.text[c] = '';
    row.width[c] = 1;
  }

  private truncate(row: Row): void {
    if (row.text.length <= this.cols) return;
    row.text.length = row.width.length = row.first.length = this.cols;
    for (const c of row.more?.keys() ?? []) if (c >= this.cols) row.more?.delete(c);
  }

  /**
   * A wide character half of which was overwritten, deleted or shifted is gone
   * entirely, as in xterm. Checks columns [from, to), one either side included.
   */
  private repairWide(row: Row, from = 0, to = row.width.length): void {
    this.truncate(row);
    const width = row.width;
    const stop = Math.min(width.length, to + 1);
    for (let c = Math.max(0, from - 1); c < stop; c++) {
      if (width[c] === 2 && width[c + 1] !== 0) this.blank(row, c);
      else if (width[c] === 0 && width[c - 1] !== 2) this.blank(row, c);
    }
  }

  print(cp: number, units: string, index: number): void {
    this.marginReturn = false;
    const width = cellWidth(cp);
    if (width === 0) {
      this.join(units, index);
      return;
    }
    const w = Math.min(width, this.cols) as 1 | 2;
    if (!this.wrapPending && this.col + w > this.cols) this.wideWrappedEarly.add(index);
    if (this.wrapPending || this.col + w > this.cols) this.softWrap();
    const row = this.current();
    const c = this.col;
    this.reach(row, c + w - 1);
    row.text[c] = units;
    row.width[c] = w;
    record(row, c, index);
    if (w === 2) {
      row.text[c + 1] = '';
      row.width[c + 1] = 0;
      record(row, c + 1, index);
    }
    this.repairWide(row, this.col, this.col + w);
    this.col += w;
    if (this.col >= this.cols) {
      this.col = this.cols - 1;
      this.wrapPending = true;
    }
  }

  /** A zero-width character joins the cell before the cursor (nothing, at the start of a row). */
  private join(units: string, index: number): void {
    const row = this.current();
    let c = this.wrapPending ? this.col : this.col - 1;
    if (row.width[c] === 0) c--;
    const shown = row.text[c];
    if (c < 0 || shown === undefined || shown === '') return;
    row.text[c] = shown + units;
    record(row, c, index);
    if (row.width[c] === 2) record(row, c + 1, index);
  }

  private softWrap(): void {
    this.current().wrapped = true;
    this.moveToRow(this.row + 1);
    this.col = 0;
    this.wrapPending = false;
  }

  control(c: number): void {
    if (c === 0x0d) {
      this.marginReturn = this.wrapPending || this.marginReturn;
      this.col = 0;
      this.wrapPending = false;
      return;
    }
    const marginReturn = this.marginReturn;
    this.marginReturn = false;
    switch (c) {
      case 0x0a: // LF, VT, FF
      case 0x0b:
      case 0x0c:
        if (marginReturn) {
          this.softWrap();
        } else {
          this.moveToRow(this.row + 1);
          this.col = 0;
          this.wrapPending = false;
        }
        return;
      case 0x08:
        this.col = Math.max(0, this.col - 1);
        this.wrapPending = false;
        return;
      case 0x09:
        this.col = Math.min(this.cols - 1, (Math.floor(this.col / TAB_STOP) + 1) * TAB_STOP);
        this.wrapPending = false;
        return;
      default:
        return; // BEL, SO, SI, …: nothing on screen
    }
  }

  /** `seq` is the whole sequence, ESC included. */
  escape(seq: string): void {
    if (seq.length < 2) return;
    const kind = seq[1];
    if (kind === '[') {
      this.csi(seq);
      return;
    }
    if (seq.length !== 2) return; // strings, charset designations, …: invisible
    switch (kind) {
      case '7':
        this.saved = { row: this.row, col: this.col };
        return;
      case '8':
        this.restore();
        return;
      case 'D': // IND
        this.moveToRow(this.row + 1);
        this.wrapPending = false;
        this.marginReturn = false;
        return;
      case 'E': // NEL
        this.control(0x0a);
        return;
      case 'M': // RI
        this.row = Math.max(0, this.row - 1);
        this.wrapPending = false;
        this.marginReturn = false;
        return;
      default:
        return;
    }
  }

  private restore(): void {
    this.moveToRow(this.saved.row);
    this.col = Math.min(this.saved.col, this.cols - 1);
    this.wrapPending = false;
    this.marginReturn = false;
  }

  private csi(seq: string): void {
    const final = seq[seq.length - 1] ?? '';
    const body = seq.slice(2, -1);
    // Private parameters (`?25h`), intermediates and aborted sequences mean something else.
    if (!/^[0-9;:]*$/.test(body) || final < '@' || final > '~') return;
    const params = csiParams(body);
    const n = Math.max(1, params[0] ?? 1);
    const row = this.current();
    const moves = (): void => {
      this.wrapPending = false;
      this.marginReturn = false;
    };
    switch (final) {
      case 'A':
        this.row = Math.max(0, this.row - n);
        moves();
        return;
      case 'B':
        this.row = Math.min(this.rows.length - 1, this.row + n);
        moves();
        return;
      case 'C':
      case 'a':
        this.col = Math.min(this.cols - 1, this.col + n);
        moves();
        return;
      case 'D':
        this.col = Math.max(0, this.col - n);
        moves();
        return;
      case 'E':
        this.row = Math.min(this.rows.length - 1, this.row + n);
        this.col = 0;
        moves();
        return;
      case 'F':
        this.row = Math.max(0, this.row - n);
        this.col = 0;
        moves();
        return;
      case 'G':
      case '`':
        this.col = Math.min(this.cols - 1, n - 1);
        moves();
        return;
      case 'H':
      case 'f':
        this.moveToRow(this.rows.length);
        this.col = Math.min(this.cols - 1, Math.max(1, params[1] ?? 1) - 1);
        moves();
        return;
      case 'd':
        this.moveToRow(this.rows.length);
        moves();
        return;
      case 'K': {
        const mode = params[0] ?? 0;
        const from = mode === 0 ? this.col : 0;
        const to = mode === 1 ? this.col + 1 : this.cols;
        for (let c = from; c < Math.min(to, row.text.length); c++) this.blank(row, c);
        this.repairWide(row);
        this.marginReturn = false;
        return;
      }
      case 'X':
        for (let c = this.col; c < Math.min(this.col + n, row.text.length); c++) this.blank(row, c);
        this.repairWide(row);
        this.marginReturn = false;
        return;
      case 'P':
        if (this.col < row.text.length) {
          spliceCells(row, this.col, n, 0);
          this.repairWide(row);
        }
        moves();
        return;
      case '@':
        if (this.col < row.text.length) {
          spliceCells(row, this.col, 0, Math.min(n, this.cols));
          this.repairWide(row);
        }
        moves();
        return;
      case 's':
        if (body === '') this.saved = { row: this.row, col: this.col };
        return;
      case 'u':
        this.restore();
        return;
      default:
        return; // SGR and the rest: invisible, the cursor stays
    }
  }
}

// ---------------------------------------------------------------------------------------------

class RenderedText implements VisibleText {
  readonly text: string;
  private readonly rows: readonly Row[];
  /** Per unit of `text`: the row and column of its cell; row -1 for a "\n" between lines. */
  private readonly unitRow: Int32Array;
  private readonly unitCol: Int32Array;
  private readonly cols: number;
  private readonly wideWrappedEarly: ReadonlySet<number>;

  constructor(screen: Screen, text: string, unitRow: Int32Array, unitCol: Int32Array) {
    this.text = text;
    this.rows = screen.rows;
    this.unitRow = unitRow;
    this.unitCol = unitCol;
    this.cols = screen.cols;
    this.wideWrappedEarly = screen.wideWrappedEarly;
  }

  /**
   * The mask for the printable character at `index`: one "*" per cell. A wide
   * character that wrapped early skipped the last column; "***" puts a star
   * there so that the two after it wrap, as the original did, and the cursor
   * ends where it ended.
   */
  maskFor(cp: number, index: number): string {
    if (this.wideWrappedEarly.has(index)) return '***';
    return '*'.repeat(Math.min(cellWidth(cp), this.cols));
  }

  rawIndicesAt(visibleIndex: number): readonly number[] {
    if (!Number.isInteger(visibleIndex) || visibleIndex < 0 || visibleIndex >= this.text.length) {
      throw new RangeError(`rawIndicesAt: visible index ${visibleIndex} is outside the text (length ${this.text.length})`);
    }
    const r = this.unitRow[visibleIndex] as number;
    if (r < 0) return [];
    const row = this.rows[r] as Row;
    const c = this.unitCol[visibleIndex] as number;
    if (row.width[c] !== 2) return history(row, c);
    return [...new Set([...history(row, c), ...history(row, c + 1)])].sort((a, b) => a - b);
  }
}

/**
 * Renders `raw` on a terminal `cols` wide (see the module comment for what is
 * modelled). An unfinished escape sequence or surrogate pair at the end is
 * pending and not rendered (`incompleteTail`). Trailing blank cells of a row are
 * not part of `text`; blank cells before written ones read as spaces.
 */
export function renderVisible(raw: string, cols: number): VisibleText {
  if (!Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`renderVisible: the terminal width must be a positive whole number of columns, got ${cols}`);
  }
  const screen = new Screen(cols);
  const end = incompleteTail(raw);
  let i = 0;
  while (i < end) {
    const unit = raw.charCodeAt(i);
    if (unit === ESC) {
      const seqEnd = sequenceEnd(raw, i);
      screen.escape(raw.slice(i, seqEnd));
      i = seqEnd;
      continue;
    }
    const { cp, units } = codePointAt(raw, i);
    if (isPrintable(cp)) screen.print(cp, raw.slice(i, i + units), i);
    else screen.control(cp);
    i += units;
  }
  return layout(screen);
}

function layout(screen: Screen): VisibleText {
  const rows = screen.rows;
  const parts: string[] = [];
  let units = 0;
  let unitRow = new Int32Array(1024);
  let unitCol = new Int32Array(1024);
  const map = (r: number, c: number): void => {
    if (units === unitRow.length) {
      const grownRow = new Int32Array(units * 2);
      const grownCol = new Int32Array(units * 2);
      grownRow.set(unitRow);
      grownCol.set(unitCol);
      unitRow = grownRow;
      unitCol = grownCol;
    }
    unitRow[units] = r;
    unitCol[units] = c;
    units++;
  };
  rows.forEach((row, r) => {
    const { text, width } = row;
    let last = text.length - 1;
    while (last >= 0 && text[last] === '' && width[last] !== 0) last--;
    let line = '';
    for (let c = 0; c <= last; c++) {
      if (width[c] === 0) continue;
      const shown = text[c] || ' ';
      line += shown;
      for (let u = 0; u < shown.length; u++) map(r, c);
    }
    parts.push(line);
    if (r < rows.length - 1 && !row.wrapped) {
      parts.push('\n');
      map(-1, -1);
    }
  });
  return new RenderedText(screen, parts.join(''), unitRow.subarray(0, units), unitCol.subarray(0, units));
}

/**
 * Returns `raw` with every printable character that ever occupied a cell inside
 * `spans` (visible coordinates of `view`, which must come from this `raw` or a
 * prefix of it) replaced by one "*" per cell it occupies: a wide character
 * becomes "**" ("***" if it wrapped early, see `maskFor`), a combining mark
 * disappears. Escape sequences and control
 * characters are untouched, so the masked text moves the cursor exactly as the
 * original did.
 */
export function maskRaw(raw: string, view: VisibleText, spans: readonly VisibleSpan[]): string {
  const masked = new Uint8Array(raw.length);
  let any = false;
  for (const { start, end } of spans) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > view.text.length) {
      throw new RangeError(`maskRaw: span [${start}, ${end}) is not inside the visible text (length ${view.text.length})`);
    }
    for (let v = start; v < end; v++) {
      for (const index of view.rawIndicesAt(v)) {
        if (index >= raw.length) {
          throw new RangeError(`maskRaw: the view maps to raw index ${index}, past the end of the raw text (length ${raw.length}); render this raw text, or a prefix of it`);
        }
        masked[index] = 1;
        any = true;
      }
    }
  }
  return any ? maskRawIndices(raw, masked, view instanceof RenderedText ? (cp, i) => view.maskFor(cp, i) : undefined) : raw;
}

/**
 * Returns `raw` with the printable character at each raw index flagged in `hidden` replaced by
 * its mask (`maskFor`, else one "*" per cell). Escape sequences and control characters are
 * never flagged by a view, so they stay byte for byte.
 */
export function maskRawIndices(raw: string, hidden: Uint8Array, maskFor?: (cp: number, index: number) => string): string {
  const out: string[] = [];
  let copied = 0;
  for (let i = hidden.indexOf(1); i >= 0 && i < raw.length; i = hidden.indexOf(1, copied)) {
    const { cp, units } = codePointAt(raw, i);
    out.push(raw.slice(copied, i), maskFor?.(cp, i) ?? '*'.repeat(cellWidth(cp)));
    copied = i + Math.max(units, 1);
  }
  if (copied === 0) return raw;
  out.push(raw.slice(copied));
  return out.join('');
}
