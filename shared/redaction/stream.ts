/**
 * The streaming redactor: what the record path runs on every chunk of output
 * and input before anything is hashed or written.
 *
 * Output. Text is held back only while its tail could still be the start of a
 * secret (scanner.holdPoint: a keyword split at the end, an open rule window,
 * a trailing token run, an unterminated private-key block) or an unfinished
 * escape sequence; everything before that is released at once, masked. Held
 * text goes out at idle() (masking what is a secret as it stands), at end(),
 * or when it passes HOLD_LIMIT.
 *
 * Detection runs on what the user sees, masking edits the raw stream. A cheap
 * pass first strips escape sequences; when it finds nothing and the chunk does
 * no line editing (backspaces, cursor moves, lone carriage returns, readline's
 * wrap, a CRLF where the row may be full), the chunk is released untouched.
 * Otherwise the terminal model (terminal-view.ts) renders the chunk after the
 * part of its row already released (so that it starts in the right column), and
 * masks replace each hidden cell with one "*" per cell while escape sequences
 * pass through byte for byte. A line being edited is held until it ends: a
 * character that looks finished may still be joined to more (`g`, a mistyped
 * `q` erased with `\b \b`, then `hp_…`).
 *
 * Input. Keystrokes are assembled per line (Enter, idle or a size bound) and
 * scanned as a line, with DEL/backspace applied, so a token typed or pasted
 * at a prompt is found whole.
 *
 * Every redaction leaves a marker `redacted <rule> <keyed fingerprint>`.
 */
/* eslint-disable no-control-regex -- terminal escape sequences are made of control characters */
import { fingerprint, type RedactionKey } from './fingerprint.ts';
import { redactionMarker } from './markers.ts';
import type { RedactedPiece, Redactor } from './redactor.ts';
import { holdPoint, scanAndHold, scanText, type CompiledRules, type WindowMemo } from './scanner.ts';
import { ESCAPE, isEditing, readRegion, type Reading } from './line-view.ts';
import { cellWidth, incompleteTail, maskRawIndices, type VisibleText } from './terminal-view.ts';
import type { RuleCategory, SecretSpan } from './types.ts';

const WORD = /[\p{L}\p{N}_]/u;

/** Held output past this many UTF-16 units is released regardless (masking what matched so far). */
export const HOLD_LIMIT = 32 * 1024;
/** Released text of the current row kept to place held text in its column; a longer row starts a fresh one. */
const ROW_CONTEXT_LIMIT = 1024;
/** An input line longer than this is scanned and released without waiting for Enter. */
export const INPUT_LINE_LIMIT = 4096;

export interface StreamRedactorOptions {
  readonly rules: CompiledRules;
  readonly categoryOf: (ruleId: string) => RuleCategory | undefined;
  readonly key: RedactionKey;
  readonly policyVersion: string;
  readonly cols: number;
}

/** An escape sequence (line-view.ts) starting exactly at lastIndex: input keys such as arrows and bracketed paste. */
const ESCAPE_AT = new RegExp(ESCAPE.source, 'y');
/** OSC strings (window titles often carry the command line) are invisible but recorded: scanned on their own. */
const OSC = /\x1b\]([^\x07\x1b]*)(\x07|\x1b\\)/g;

interface PrefixReach {
  /** Each proper prefix of a keyword: the largest `before` among the rules its keywords open. */
  readonly byPrefix: ReadonlyMap<string, number>;
  readonly longest: number;
  /** The last UTF-16 unit of each of those prefixes. */
  readonly lastUnits: ReadonlySet<number>;
}
const prefixReach = new WeakMap<CompiledRules, PrefixReach>();

function keywordPrefixReach(rules: CompiledRules): PrefixReach {
  let reach = prefixReach.get(rules);
  if (reach !== undefined) return reach;
  const byPrefix = new Map<string, number>();
  const lastUnits = new Set<number>();
  let longest = 0;
  rules.automaton.keywords.forEach((keyword, k) => {
    const before = Math.max(0, ...rules.owners[k]!.map((r) => rules.rules[r]!.before));
    for (let d = 1; d < keyword.length; d++) {
      const prefix = keyword.slice(0, d);
      byPrefix.set(prefix, Math.max(byPrefix.get(prefix) ?? 0, before));
      lastUnits.add(prefix.charCodeAt(d - 1));
      longest = Math.max(longest, d);
    }
  });
  reach = { byPrefix, longest, lastUnits };
  prefixReach.set(rules, reach);
  return reach;
}

/** Replaces raw characters at `indices` with one "*" per cell, at least one (keys and titles keep no cells). */
function maskAt(raw: string, indices: Iterable<number>): string {
  const hidden = new Uint8Array(raw.length);
  for (const i of indices) hidden[i] = 1;
  return maskRawIndices(raw, hidden, (cp) => '*'.repeat(Math.max(1, cellWidth(cp))));
}

/** Spans that continue a secret cut short by a forced release (see #outputContinues). */
const CONTINUATIONS = new WeakSet<SecretSpan>();
function continuation(span: SecretSpan): SecretSpan {
  CONTINUATIONS.add(span);
  return span;
}

/** End of the run of non-blank characters at `from`: what continues a secret cut short. */
function continuationEnd(text: string, from: number): number {
  let end = from;
  while (end < text.length && text.charCodeAt(end) > 0x20 && text.charCodeAt(end) !== 0x7f) end++;
  return end;
}

export class StreamRedactor implements Redactor {
  readonly policyVersion: string;
  readonly #options: StreamRedactorOptions;
  #cols: number;
  #pending = '';
  /** Released output since the cursor was last at column 0 (its last CR or LF); undefined past ROW_CONTEXT_LIMIT. */
  #row: string | undefined = '';
  #inputLine = '';
  /**
   * A secret that reached the end of what a forced release (idle, size bound) let go of: the
   * rule that found it. Typed slowly, a password's first keys go out at a pause, masked; the
   * keys after the pause no longer match the rule on their own (the context is gone), so the
   * run of non-blank characters that continues it is masked as its continuation.
   */
  #outputContinues: string | undefined;
  #inputContinues: string | undefined;
  readonly #counts: Record<string, number> = {};

  constructor(options: StreamRedactorOptions) {
    this.#options = options;
    this.policyVersion = options.policyVersion;
    this.#cols = options.cols;
  }

  get holding(): boolean {
    return this.#pending.length > 0 || this.#inputLine.length > 0;
  }

  resize(cols: number): void {
    this.#cols = cols;
  }

  counts(): Record<string, number> {
    return { ...this.#counts };
  }

  output(text: string): RedactedPiece[] {
    this.#pending += text;
    return this.#release(this.#pending.length > HOLD_LIMIT);
  }

  idle(): RedactedPiece[] {
    return this.#release(true);
  }

  /**
   * Complete lines only: the line being typed stays held, or a token echoed key by key would
   * go out one key at a time, before it is whole.
   */
  releaseOutput(): RedactedPiece[] {
    const lineEnd = this.#pending.lastIndexOf('\n') + 1;
    if (lineEnd === 0) return [];
    const rest = this.#pending.slice(lineEnd);
    this.#pending = this.#pending.slice(0, lineEnd);
    const pieces = this.#release(true);
    this.#pending += rest;
    return pieces;
  }

  flushInput(): RedactedPiece[] {
    return this.#releaseInput();
  }

  end(): RedactedPiece[] {
    return this.#release(true);
  }

  input(text: string): RedactedPiece[] {
    this.#inputLine += text;
    const pieces: RedactedPiece[] = [];
    for (;;) {
      const enter = this.#inputLine.search(/[\r\n]/);
      if (enter < 0) break;
      pieces.push(...this.#scanInput(this.#inputLine.slice(0, enter + 1)));
      this.#inputLine = this.#inputLine.slice(enter + 1);
    }
    if (this.#inputLine.length > INPUT_LINE_LIMIT) pieces.push(...this.#releaseInput());
    return pieces;
  }

  #releaseInput(): RedactedPiece[] {
    const line = this.#inputLine;
    this.#inputLine = '';
    return line.length === 0 ? [] : this.#scanInput(line, true);
  }

  /**
   * Scans one line of keystrokes as typed: DEL and BS remove the character before them. Escape
   * sequences (arrow keys, bracketed paste's `ESC [200~`) are keys, not text: each reads as one
   * space and is never masked.
   */
  #scanInput(keys: string, cutShort = false): RedactedPiece[] {
    /** Raw index of each typed character; -1 for an escape sequence. */
    const kept: number[] = [];
    const inEscape = new Uint8Array(keys.length);
    for (let i = 0; i < keys.length; ) {
      if (keys.charCodeAt(i) === 0x1b) {
        ESCAPE_AT.lastIndex = i;
        const sequence = ESCAPE_AT.exec(keys);
        if (sequence !== null) {
          inEscape.fill(1, i, i + sequence[0].length);
          kept.push(-1);
          i += sequence[0].length;
          continue;
        }
      }
      const c = keys.charCodeAt(i);
      if (c === 0x7f || c === 0x08) kept.pop();
      else kept.push(i);
      i++;
    }
    const typed = kept.map((i) => (i < 0 ? ' ' : keys[i])).join('');
    const spans = scanText(typed, this.#options.rules);
    const continued = this.#inputContinues;
    this.#inputContinues = undefined;
    if (continued !== undefined) {
      const end = continuationEnd(typed, 0);
      if (end > 0) spans.unshift(continuation({ start: 0, end, ruleId: continued }));
    }
    if (cutShort) {
      const last = spans[spans.length - 1];
      if (last !== undefined && last.end === typed.length) this.#inputContinues = last.ruleId;
    }
    if (spans.length === 0) return [{ kind: 'text', text: keys }];
    const hidden: number[] = [];
    for (const span of spans) for (let i = span.start; i < span.end; i++) if (kept[i]! >= 0) hidden.push(kept[i]!);
    if (hidden.length > 0) {
      // Characters typed and then deleted inside a secret's reach are hidden too.
      const isKept = new Uint8Array(keys.length);
      for (const i of kept) if (i >= 0) isKept[i] = 1;
      const first = Math.min(...hidden);
      const last = Math.max(...hidden);
      for (let i = first; i <= last; i++) {
        const c = keys.charCodeAt(i);
        if (isKept[i] === 0 && inEscape[i] === 0 && c !== 0x7f && c !== 0x08) hidden.push(i);
      }
    }
    return [{ kind: 'text', text: maskAt(keys, hidden) }, ...this.#markers(typed, spans)];
  }

  /** One marker per span; a secret's continuation (after a forced release) was counted already. */
  #markers(text: string, spans: readonly SecretSpan[]): RedactedPiece[] {
    return spans.map((span) => {
      const category = this.#options.categoryOf(span.ruleId) ?? 'uncategorised';
      if (!CONTINUATIONS.has(span)) this.#counts[category] = (this.#counts[category] ?? 0) + 1;
      return { kind: 'marker', label: redactionMarker(span.ruleId, fingerprint(this.#options.key, text.slice(span.start, span.end))) };
    });
  }

  /** Releases what can no longer become part of a secret (everything, with `force`). */
  #release(force: boolean): RedactedPiece[] {
    const raw = this.#pending;
    const end = force ? raw.length : incompleteTail(raw);
    if (end === 0) return [];
    const { pieces, cut } = this.#releaseRead(raw.slice(0, end), force);
    if (cut === 0) return [];
    this.#pending = raw.slice(cut);
    for (const piece of pieces) if (piece.kind === 'text') this.#advanceRow(piece.text);
    return this.#maskTitles(pieces);
  }

  /**
   * Keeps `#row` (the released text since the cursor was last at column 0) up to date. Held text
   * is read after it, so that it starts in the column where the terminal has it: readline's
   * wraps (`\r\n` at the margin, ` \r`), backspaces and tabs depend on the column.
   */
  #advanceRow(released: string): void {
    const lineStart = Math.max(released.lastIndexOf('\n'), released.lastIndexOf('\r')) + 1;
    const row = lineStart > 0 ? released.slice(lineStart) : this.#row === undefined ? undefined : this.#row + released;
    this.#row = row !== undefined && row.length <= ROW_CONTEXT_LIMIT ? row : undefined;
  }

  /**
   * Reads `region` as the user sees it (line-view.ts: plain lines as they are, edited lines
   * through the terminal model, both readings of a CRLF at the margin), finds secrets in what is
   * seen, holds what may still grow into one, and masks the raw cells of what it releases.
   * Indices below are in `row + region`, the row released so far placing the cursor.
   */
  #releaseRead(region: string, force: boolean): { pieces: RedactedPiece[]; cut: number } {
    const context = this.#row;
    const offset = context?.length ?? 0;
    const all = (context ?? '') + region;
    const rules = this.#options.rules;
    let readings = readRegion(context, region, this.#cols);
    // The readings (both of a margin CRLF, the released part read again) share most of their rule windows.
    const memo: WindowMemo = new Map();
    let cut = all.length;
    let found = readings.map((view) => {
      const n = view.text.length;
      const scanned = scanAndHold(view.text, rules, undefined, memo);
      let hold = force ? n : Math.min(this.#holdPoint(view.text, scanned.hold), this.#editedLineStart(view, all));
      for (const span of scanned.spans) if (span.start < hold && span.end > hold) hold = span.start;
      const tail = view.minRawFrom(hold);
      if (tail >= 0) cut = Math.min(cut, tail);
      return { view, spans: scanned.spans };
    });
    if (cut <= offset) return { pieces: [], cut: 0 };
    if (cut < all.length) {
      // What is released is read again unless every reading of it is a prefix of what was read,
      // and no secret found lies across the cut (another reading's hold may fall inside it).
      const across = found.some(({ view, spans }) => spans.some((span) => {
        const cells = this.#cellsOf(view, span, offset);
        return cells.some((r) => r < cut) && cells.some((r) => r >= cut);
      }));
      if (across || !readings.every((view) => view.prefixStable(cut))) {
        readings = readRegion(context, region.slice(0, cut - offset), this.#cols);
        found = readings.map((view) => ({ view, spans: scanText(view.text, rules, undefined, memo) }));
      }
    }
    const released = region.slice(0, cut - offset);
    // Allocated at the first secret: most reads have none.
    let hidden: Uint8Array | undefined;
    const markers: RedactedPiece[] = [];
    const continued = this.#outputContinues;
    this.#outputContinues = undefined;
    if (continued !== undefined) {
      // The first visible character of this release and the non-blank run it starts.
      const view = found[0]!.view;
      let first = 0;
      while (first < view.text.length && !view.rawIndicesAt(first).some((r) => r >= offset)) first++;
      const end = continuationEnd(view.text, first);
      if (end > first) found[0] = { view, spans: [continuation({ start: first, end, ruleId: continued }), ...found[0]!.spans] };
    }
    found.forEach(({ view, spans }, reading) => {
      for (const span of spans) {
        // Cells of the row released before are out of reach (and were dealt with then).
        const cells = this.#cellsOf(view, span, offset).filter((r) => r < cut);
        if (cells.length === 0) continue;
        hidden ??= new Uint8Array(released.length);
        const seen = hidden;
        // The hard reading of a margin CRLF only adds what the soft one did not see.
        if (reading > 0 && cells.every((r) => seen[r - offset] === 1)) continue;
        for (const r of cells) seen[r - offset] = 1;
        markers.push(...this.#markers(view.text, [span]));
      }
    });
    if (force && cut === all.length) {
      // Held text let go of before it was complete: does a secret reach its very end?
      for (const { view, spans } of found) for (const span of spans) if (span.end === view.text.length) this.#outputContinues = span.ruleId;
    }
    if (hidden === undefined || markers.length === 0) return { pieces: released.length === 0 ? [] : [{ kind: 'text', text: released }], cut: cut - offset };
    const first = readings[0]!;
    const masked = maskRawIndices(released, hidden, (cp, i) => first.maskFor(cp, i + offset));
    return { pieces: [{ kind: 'text', text: masked }, ...markers], cut: cut - offset };
  }

  /** The raw indices (at or past `from`) of the cells of `span`. */
  #cellsOf(view: VisibleText, span: SecretSpan, from: number): number[] {
    const cells: number[] = [];
    for (let i = span.start; i < span.end; i++) for (const r of view.rawIndicesAt(i)) if (r >= from) cells.push(r);
    return cells;
  }

  /**
   * scanner.holdPoint, and the context a keyword's rule reads before it when the text ends in
   * the start of that keyword: holdPoint holds only the keyword's own start there, so the scheme
   * of `postgres:` (then `//app:PASSWORD@db`) or a token before `(twil` would go out before the
   * keyword is complete and its rule could no longer see them.
   */
  #holdPoint(text: string, scannerHold = holdPoint(text, this.#options.rules)): number {
    let hold = scannerHold;
    const before = keywordPrefixReach(this.#options.rules);
    const n = text.length;
    // Most text ends in a character no keyword prefix ends in (a line end, a space): no suffix
    // can be one then. An ASCII unit is the last of its suffix lower-cased, lower-cased itself.
    const lastUnit = text.charCodeAt(n - 1);
    const none = lastUnit < 0x80 && !before.lastUnits.has(lastUnit >= 0x41 && lastUnit <= 0x5a ? lastUnit + 0x20 : lastUnit);
    for (let d = none ? 0 : Math.min(n, before.longest); d >= 1; d--) {
      const reach = before.byPrefix.get(text.slice(n - d).toLowerCase());
      // The context a rule reads before its keyword is on the keyword's own line.
      if (reach !== undefined) hold = Math.min(hold, Math.max(0, n - d - reach, text.lastIndexOf('\n', n - d - 1) + 1));
    }
    // Never cut a word in two: held context starts at the beginning of the word it falls in, so
    // that replay shows words whole (a recording's events split where the program paused).
    while (hold > 0 && hold < n && WORD.test(text[hold - 1]!) && WORD.test(text[hold]!)) hold--;
    return hold;
  }

  /**
   * Where the last line begins, when it is being edited (backspace, cursor moves, carriage
   * return): a character there that looks finished may still be joined to more (`g`, then a
   * mistyped `q` erased with `\b \b`, shows `g ` until the `h` comes). The line is held until
   * it ends, idle, or the size bound. Otherwise the text's length.
   */
  #editedLineStart(view: Reading, raw: string): number {
    const n = view.text.length;
    const lineStart = view.text.lastIndexOf('\n') + 1;
    const first = view.minRawFrom(lineStart);
    const rawStart = first < 0 ? raw.length : Math.min(raw.length, first);
    return isEditing(raw.slice(rawStart)) ? lineStart : n;
  }

  /** Secrets inside OSC strings (window titles carry command lines) are masked in place. */
  #maskTitles(pieces: RedactedPiece[]): RedactedPiece[] {
    const out: RedactedPiece[] = [];
    for (const piece of pieces) {
      if (piece.kind !== 'text' || !piece.text.includes('\x1b]')) {
        out.push(piece);
        continue;
      }
      const markers: RedactedPiece[] = [];
      const text = piece.text.replace(OSC, (whole, payload: string, terminator: string) => {
        const spans = scanText(payload, this.#options.rules);
        if (spans.length === 0) return whole;
        markers.push(...this.#markers(payload, spans));
        const hidden: number[] = [];
        for (const span of spans) for (let i = span.start; i < span.end; i++) hidden.push(i);
        return `\x1b]${maskAt(payload, hidden)}${terminator}`;
      });
      out.push({ kind: 'text', text }, ...markers);
    }
    return out;
  }
}
