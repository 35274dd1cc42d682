/**
 * How the streaming redactor reads a stretch of terminal output: line by line, through the
 * terminal model only where a line needs it.
 *
 * Most output is plain: text, colours, CRLF. Its visible text is the raw text with escape
 * sequences removed and CRLF read as LF (an "approximation", linear and cheap). A line that
 * edits itself (backspace, a lone CR as progress bars and prompts do, erase or move within the
 * line) is rendered by the terminal model (terminal-view.ts), which costs some µs per cell; a
 * stretch that moves the cursor to other lines (up, down, absolute positions, save/restore) is
 * rendered whole, as it always was. The pieces are joined into one VisibleText over the same raw
 * coordinates, so a secret that spans lines (a private-key block) is still seen whole.
 *
 * A CRLF that comes where the row is full is ambiguous on the wire: a program's margin wrap
 * (readline wraps that way) joins the rows into one logical line, a line of output exactly as
 * wide as the terminal followed by the next line does not. Both readings are returned then, and
 * the redactor scans both: a token after a full-width line is found in the hard reading, a token
 * cut by the margin in the soft one.
 */
/* eslint-disable no-control-regex -- terminal escape sequences are made of control characters */
import { cellWidth, renderVisible, type VisibleText } from './terminal-view.ts';

// CSI (ESC [ … final), OSC/DCS/SOS/PM/APC strings (… BEL or ESC \), and two-character escapes.
export const ESCAPE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])/g;
/** Moves the cursor off its line (or back to a saved place): only a whole render can follow. */
const SCREEN_EDITING = /\x1b\[[0-9;]*[ABEFHJSTdfsu]|\x1b[78DEM]/;
/** Edits within the line: BS, DEL, lone CR, erase and move along the row, insert and delete characters. */
const LINE_EDITING = /[\b\x7f]|\x1b\[[0-9;]*[@CDGKPX`a]|\r(?!\n)/;

/** Whether `raw` edits what it wrote (backspace, lone CR, erase, cursor moves): only the terminal model can follow it. */
export function isEditing(raw: string): boolean {
  return LINE_EDITING.test(raw) || SCREEN_EDITING.test(raw);
}
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** A run of printable ASCII from lastIndex. */
const PRINTABLE_RUN = /[\x20-\x7e]*/y;
/** LINE_EDITING or SCREEN_EDITING, to find both kinds in one pass (isScreenEdit tells them apart). */
const ANY_EDITING = /[\b\x7f]|\r(?!\n)|\x1b(?:\[[0-9;]*[@CDGKPX`aABEFHJSTdfsu]|[78DEM])/g;
/** Whether a match of ANY_EDITING is a SCREEN_EDITING one. */
function isScreenEdit(edit: string): boolean {
  if (edit.length < 2) return false;
  const final = edit.charCodeAt(edit.length - 1);
  // ESC 7, ESC 8, ESC D, ESC E, ESC M; or a CSI whose final moves off the line.
  return edit.length === 2 ? true : 'ABEFHJSTdfsu'.includes(String.fromCharCode(final));
}

/** A reading of the raw text `context + region`: visible text, and which raw cells made it. */
export interface Reading extends VisibleText {
  /**
   * Whether reading raw[0, rawCut) gives this reading's text up to the cell at rawCut (a plain
   * line cut anywhere, any line cut at its start): then what is released before a cut needs no
   * second reading.
   */
  prefixStable(rawCut: number): boolean;
  maskFor(cp: number, index: number): string;
  /**
   * The smallest raw index of the cells at visible indices `from` and after (the least of
   * rawIndicesAt over them), or -1 when they have none: where the raw text of a held tail
   * starts, without an array per character.
   */
  minRawFrom(from: number): number;
}

/**
 * Could this character be part of a secret that continues across a line break? Token characters
 * of any rule, an escape sequence starting (colour inside a token), or an unknown neighbour.
 */
function mayJoin(code: number): boolean {
  if (Number.isNaN(code) || code === 0x1b || code > 0x7f) return true;
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || '+/=_-.~:@%!$*&#?'.includes(String.fromCharCode(code));
}

/** An escape sequence starting exactly at lastIndex. */
const ESCAPE_AT = new RegExp(ESCAPE.source, 'y');

/**
 * Where the ESCAPE match that starts at `at` (an ESC) ends, or -1 when none does. CSI, nearly
 * every sequence in real output, is matched by hand (no match object per colour code).
 */
function escapeEnd(all: string, at: number): number {
  if (all.charCodeAt(at + 1) === 0x5b) {
    let i = at + 2;
    let c = all.charCodeAt(i);
    while (c >= 0x30 && c <= 0x3f) c = all.charCodeAt(++i);
    while (c >= 0x20 && c <= 0x2f) c = all.charCodeAt(++i);
    // Not a CSI: ESCAPE's last branch (intermediates, then a final from 0x30) takes `ESC [` alone.
    return c >= 0x40 && c <= 0x7e ? i + 1 : at + 2;
  }
  ESCAPE_AT.lastIndex = at;
  return ESCAPE_AT.test(all) ? ESCAPE_AT.lastIndex : -1;
}

/**
 * Whether the row that ends at a CRLF may be full (a multiple of `cols` cells), so that the
 * terminal model reads the CRLF as a soft wrap. The row is `all[from, to)`, its raw text.
 */
function mayFillRow(all: string, from: number, to: number, cols: number): boolean {
  // Cheap bound first: every unit is at most two cells, and without a tab nothing is wider.
  if ((to - from) * 2 < cols && !includesTab(all, from, to)) return false;
  // The common row, printable ASCII and colour codes: count its cells without copying it.
  let cells = 0;
  for (let i = from; i < to; ) {
    PRINTABLE_RUN.lastIndex = i;
    PRINTABLE_RUN.test(all);
    const runEnd = Math.min(PRINTABLE_RUN.lastIndex, to);
    cells += runEnd - i;
    i = runEnd;
    if (i >= to) break;
    const c = all.charCodeAt(i);
    if (c === 0x1b) {
      // A sequence that runs past the row is not one in the row's own text (see mayFillText).
      const end = escapeEnd(all, i);
      if (end >= 0 && end <= to) {
        i = end;
        continue;
      }
    }
    return mayFillText(all.slice(from, to), cols);
  }
  return cells > 0 && cells % cols === 0;
}

function includesTab(all: string, from: number, to: number): boolean {
  const tab = all.indexOf('\t', from);
  return tab >= 0 && tab < to;
}

/** mayFillRow for any row text: escape sequences stripped, then its cells counted. */
function mayFillText(row: string, cols: number): boolean {
  const shown = row.includes('\x1b') ? row.replace(ESCAPE, '') : row;
  if (PRINTABLE_ASCII.test(shown)) return shown.length > 0 && shown.length % cols === 0;
  if (shown.includes('\t')) return true;
  let cells = 0;
  for (const ch of shown) cells += ch.charCodeAt(0) < 0x20 ? 0 : cellWidth(ch.codePointAt(0)!);
  return cells >= cols; // wide characters may wrap early: let the terminal model decide
}

interface Segment {
  readonly text: string;
  /** Raw index (in `context + region`) of each text unit; -1 for a unit no raw character made. */
  rawIndicesAt(i: number): readonly number[];
  /** The least raw index at text units `i` and after, or -1 (Reading#minRawFrom). */
  minRawFrom?(i: number): number;
  maskFor?(cp: number, index: number): string;
  /** [rawStart, rawEnd) in `context + region`. */
  readonly rawStart: number;
  readonly rawEnd: number;
  readonly plain: boolean;
}

/**
 * A plain stretch: escape sequences removed, each CRLF read as LF, or dropped where `joins`
 * holds its CR's raw index (a soft wrap).
 */
function plainSegment(all: string, from: number, to: number, joins: ReadonlySet<number>): Segment & { readonly overrun: boolean } {
  // The text is copied in pieces; each piece starts an anchor (its text and raw offsets), and
  // within a piece text and raw advance together. No per-character table: this runs on nearly
  // all output.
  const anchorText: number[] = [];
  const anchorRaw: number[] = [];
  const parts: string[] = [];
  let length = 0;
  const copy = (a: number, b: number): void => {
    if (b <= a) return;
    parts.push(all.slice(a, b));
    anchorText.push(length);
    anchorRaw.push(a);
    length += b - a;
  };
  // The first CRLF at or after the text copied so far (-1: none), kept between pieces: searching
  // afresh from each piece would read on to the line's end once per colour code.
  let crlf = all.indexOf('\r\n', from);
  const copyLines = (a: number, b: number): void => {
    let start = a;
    if (crlf >= 0 && crlf < start) crlf = all.indexOf('\r\n', start); // skipped inside a sequence
    for (; crlf >= 0 && crlf < b; crlf = all.indexOf('\r\n', crlf + 2)) {
      copy(start, crlf);
      start = joins.has(crlf) ? crlf + 2 : crlf + 1; // a soft wrap leaves nothing; a line end keeps the LF
    }
    copy(start, b);
  };
  let last = from;
  for (let escape = all.indexOf('\x1b', from); escape >= 0 && escape < to; ) {
    const end = escapeEnd(all, escape);
    if (end < 0) {
      escape = all.indexOf('\x1b', escape + 1); // not a sequence: an ESC of the text
      continue;
    }
    copyLines(last, escape);
    last = end;
    escape = all.indexOf('\x1b', end);
  }
  // A sequence running on past the stretch (a string across its end) would read differently cut.
  const overrun = last > to;
  copyLines(last, to);
  const text = parts.length === 1 ? parts[0]! : parts.join('');
  // Control characters (the LF of a line end, a tab) made no cell: masking one would move the cursor.
  const none: readonly number[] = [];
  const anchorAt = (i: number): number => {
    let lo = 0;
    let hi = anchorText.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (anchorText[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const rawIndicesAt = (i: number): readonly number[] => {
    if (text.charCodeAt(i) < 0x20) return none;
    const k = anchorAt(i);
    return [anchorRaw[k]! + (i - anchorText[k]!)];
  };
  // Text and raw advance together, so the least raw index from `i` on is that of the first unit with a cell.
  const minRawFrom = (i: number): number => {
    while (i < text.length && text.charCodeAt(i) < 0x20) i++;
    if (i >= text.length) return -1;
    const k = anchorAt(i);
    return anchorRaw[k]! + (i - anchorText[k]!);
  };
  return { text, rawIndicesAt, minRawFrom, rawStart: from, rawEnd: to, plain: true, overrun };
}

/** A stretch through the terminal model; `from` is where its raw text starts in `all`. */
function renderedSegment(all: string, from: number, to: number, cols: number): Segment {
  const view = renderVisible(all.slice(from, to), cols);
  const shift = (list: readonly number[]): readonly number[] => (from === 0 ? list : list.map((r) => r + from));
  return {
    text: view.text,
    rawIndicesAt: (i) => shift(view.rawIndicesAt(i)),
    maskFor: (cp, index) => view.maskFor?.(cp, index - from) ?? '*'.repeat(cellWidth(cp)),
    rawStart: from,
    rawEnd: to,
    plain: false,
  };
}

/** Carriage returns and erase-in-line (`ESC [ K`, modes 0 to 2), from lastIndex. */
const CLEARING = /(?:\r|\x1b\[[012]?K)*/y;
/** Printable ASCII and SGR colours, then the line end, from lastIndex. */
const COLOURED_TEXT = /(?:[\x20-\x7e]|\x1b\[[0-9;]*m)*(?:\r?\n)?/y;

/**
 * A progress line (`\r\x1b[K[####    ] 42%`) read without the terminal model: it clears its row
 * and then writes it once. On a fresh row (a line that is not the region's first) the returns
 * and erases at its start change nothing, and printable ASCII in colour, narrower than the
 * row, lands cell after cell: the model would show exactly the plain reading of the rest, each
 * cell written once, and mask each character with one "*". Marked not plain, as the model's
 * segment is, so that a cut inside it is read again as before. Undefined for any other line.
 */
function clearedLine(all: string, from: number, to: number, cols: number): Segment | undefined {
  CLEARING.lastIndex = from;
  if (!CLEARING.test(all)) return undefined;
  const body = CLEARING.lastIndex;
  COLOURED_TEXT.lastIndex = body;
  if (!COLOURED_TEXT.test(all) || COLOURED_TEXT.lastIndex !== to) return undefined;
  const segment = plainSegment(all, body, to, new Set());
  const width = segment.text.endsWith('\n') ? segment.text.length - 1 : segment.text.length;
  // A full row would leave a wrap pending, and its CRLF would then read as a soft wrap.
  if (width >= cols) return undefined;
  return { ...segment, rawStart: from, plain: false };
}

class JoinedReading implements Reading {
  readonly text: string;
  readonly #segments: readonly Segment[];
  /** Text offset of each segment. */
  readonly #starts: Int32Array;

  constructor(segments: readonly Segment[]) {
    this.#segments = segments;
    this.#starts = new Int32Array(segments.length);
    let at = 0;
    segments.forEach((segment, k) => {
      this.#starts[k] = at;
      at += segment.text.length;
    });
    this.text = segments.length === 1 ? segments[0]!.text : segments.map((s) => s.text).join('');
  }

  #segmentAt(visibleIndex: number): number {
    let lo = 0;
    let hi = this.#segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid]! <= visibleIndex) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  rawIndicesAt(visibleIndex: number): readonly number[] {
    if (!Number.isInteger(visibleIndex) || visibleIndex < 0 || visibleIndex >= this.text.length) {
      throw new RangeError(`rawIndicesAt: visible index ${visibleIndex} is outside the text (length ${this.text.length})`);
    }
    const k = this.#segmentAt(visibleIndex);
    return this.#segments[k]!.rawIndicesAt(visibleIndex - this.#starts[k]!);
  }

  minRawFrom(from: number): number {
    if (from >= this.text.length) return -1;
    // Each segment's cells come from raw text after the previous segment's: the first segment
    // with a cell at or after `from` holds the least index.
    for (let k = this.#segmentAt(Math.max(0, from)); k < this.#segments.length; k++) {
      const segment = this.#segments[k]!;
      const start = Math.max(0, from - this.#starts[k]!);
      let least = -1;
      if (segment.minRawFrom !== undefined) {
        least = segment.minRawFrom(start);
      } else {
        for (let i = start; i < segment.text.length; i++) {
          for (const r of segment.rawIndicesAt(i)) if (least < 0 || r < least) least = r;
        }
      }
      if (least >= 0) return least;
    }
    return -1;
  }

  maskFor(cp: number, index: number): string {
    const segment = this.#segments.find((s) => index >= s.rawStart && index < s.rawEnd);
    return segment?.maskFor?.(cp, index) ?? '*'.repeat(cellWidth(cp));
  }

  prefixStable(rawCut: number): boolean {
    const segment = this.#segments.find((s) => rawCut >= s.rawStart && rawCut < s.rawEnd);
    return segment === undefined || segment.plain || segment.rawStart === rawCut;
  }
}

const NO_JOINS: ReadonlySet<number> = new Set();
const NO_CELLS: readonly number[] = [];

interface Line {
  /** [start, end) in `context + region`, the LF included. */
  readonly start: number;
  readonly end: number;
  readonly edited: boolean;
  /** The line ends in a CRLF that may be a soft wrap into the next line (its CR's index), or -1. */
  readonly marginCr: number;
}

/**
 * The readings of `region`, whose row so far is `context` (released output since the cursor was
 * last at column 0; undefined when that is not known). Indices are in `context + region`; cells
 * of the context are in the first line's reading when it is rendered (it places the cursor).
 * One reading, or two (soft, then hard) when a CRLF may be a margin wrap.
 */
export function readRegion(context: string | undefined, region: string, cols: number): Reading[] {
  const row = context ?? '';
  const all = row + region;
  const offset = row.length;

  // One pass finds every edit in the region (the union of the two patterns): any that moves
  // off the line renders the whole stretch; the others mark their line as edited.
  const edits: number[] = [];
  ANY_EDITING.lastIndex = 0;
  for (let m = ANY_EDITING.exec(region); m !== null; m = ANY_EDITING.exec(region)) {
    if (isScreenEdit(m[0])) {
      const whole = renderedSegment(all, 0, all.length, cols);
      return [new JoinedReading([{ ...whole, rawStart: offset }])];
    }
    edits.push(offset + m.index);
  }

  const lines: Line[] = [];
  let margins = false;
  let edit = 0;
  for (let start = offset; start < all.length; ) {
    const lf = all.indexOf('\n', start);
    const end = lf < 0 ? all.length : lf + 1;
    const marginCr =
      lf > start && all.charCodeAt(lf - 1) === 0x0d && lf + 1 < all.length &&
      mayJoin(all.charCodeAt(lf - 2)) && mayJoin(all.charCodeAt(lf + 1)) &&
      (start === offset && context === undefined ? true : mayFillRow(all, start === offset ? 0 : start, lf - 1, cols))
        ? lf - 1
        : -1;
    // An edit never spans a line break (none of the patterns matches one), so it is in the line it starts in.
    let edited = false;
    while (edit < edits.length && edits[edit]! < end) {
      edited = true;
      edit++;
    }
    lines.push({ start, end, edited, marginCr });
    if (marginCr >= 0) margins = true;
    start = end;
  }

  // Groups: lines joined by possible margin wraps. The soft reading reads each group as one
  // logical line; the hard reading (only when there is a join) reads every line on its own.
  //
  // A stretch of plain lines is cut at its margin CRLFs: the soft reading drops each (a wrap),
  // the hard one reads it as a line end ("\n"), and the plain pieces between them are the same
  // in both readings, so the hard reading reuses the soft one's (`pieces`, by raw range).
  const pieces = new Map<number, Segment & { readonly overrun: boolean }>();
  const piece = (a: number, b: number): Segment & { readonly overrun: boolean } => {
    const key = a * (all.length + 1) + b;
    let segment = pieces.get(key);
    if (segment === undefined) {
      segment = plainSegment(all, a, b, NO_JOINS);
      pieces.set(key, segment);
    }
    return segment;
  };
  const build = (soft: boolean): Reading => {
    const segments: Segment[] = [];
    let plainFrom = -1;
    /** The margin CRs (raw indices) inside the plain stretch from plainFrom, in order. */
    let cuts: number[] = [];
    const flushPlain = (to: number): void => {
      if (plainFrom >= 0 && to > plainFrom) {
        const cut: Segment[] = [];
        let start = plainFrom;
        let whole = true;
        for (const cr of [...cuts, to]) {
          if (cr > start) {
            const segment = piece(start, cr);
            // A sequence across a cut (a string over the line end) reads as one only uncut.
            if (segment.overrun) whole = false;
            cut.push(segment);
          }
          if (cr === to) break;
          if (!soft) cut.push({ text: '\n', rawIndicesAt: () => NO_CELLS, rawStart: cr, rawEnd: cr + 2, plain: true });
          start = cr + 2;
        }
        if (whole) segments.push(...cut);
        else segments.push(plainSegment(all, plainFrom, to, soft ? new Set(cuts) : NO_JOINS));
      }
      plainFrom = -1;
      cuts = [];
    };
    for (let k = 0; k < lines.length; ) {
      let last = k;
      let edited = lines[k]!.edited;
      if (soft) {
        while (lines[last]!.marginCr >= 0 && last + 1 < lines.length) {
          last++;
          edited ||= lines[last]!.edited;
        }
      }
      const first = lines[k]!;
      const from = first.start;
      const to = lines[last]!.end;
      if (edited) {
        flushPlain(from);
        // The first line is rendered after its row so far, so that it starts in the right column.
        // In the hard reading a margin CRLF is a line end: the model would read it as a wrap.
        const hardEnd = !soft && first.marginCr >= 0 ? first.marginCr : to;
        const cleared = last === k && first.marginCr < 0 && from !== offset ? clearedLine(all, from, to, cols) : undefined;
        if (cleared !== undefined) {
          segments.push(cleared);
          k = last + 1;
          continue;
        }
        const segment = renderedSegment(all, from === offset ? 0 : from, hardEnd, cols);
        segments.push(from === offset ? { ...segment, rawStart: offset } : segment);
        if (hardEnd < to) segments.push({ text: '\n', rawIndicesAt: () => [], rawStart: hardEnd, rawEnd: to, plain: false });
      } else {
        if (plainFrom < 0) plainFrom = from;
        // Soft: the group's CRLFs but its last are wraps. Hard: a line's margin CRLF is its end.
        for (let j = k; j <= last; j++) if (lines[j]!.marginCr >= 0 && (!soft || j < last)) cuts.push(lines[j]!.marginCr);
      }
      k = last + 1;
    }
    flushPlain(all.length);
    return new JoinedReading(segments);
  };
  const soft = build(true);
  return margins ? [soft, build(false)] : [soft];
}
