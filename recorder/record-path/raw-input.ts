/**
 * Keystrokes typed while the local pty is raw (issue 3, "Input (keystrokes)",
 * remote sessions). Under ssh, tmux or any program that reads key by key, the
 * local ECHO flag says nothing: the program decides what to show. A remote
 * `sudo` or `read -s` shows a prompt and echoes nothing, so the record path
 * decides from what the worker sees, in order, in the pty thread's clock:
 *
 * 1. Prompt. If the screen's last line reads like a secret prompt
 *    (detectSecretPrompt on the rendered tail), every key up to and including
 *    the next Enter is hidden: one `password prompt` marker, nothing else.
 * 2. Echo absence. Otherwise a printable key is held until its echo is known:
 *    if its character comes back in the output within the echo window, it is
 *    recorded as typed; if the window passes without it, it is hidden: one
 *    `no echo` marker per run of such keys. A run ends at Enter (swallowed with
 *    it, as getpass's Enter is) or at a key that is echoed.
 *
 * Only printable keys can be a secret's characters, so only they are judged:
 * arrows, function keys, Alt-keys, Ctrl-C/-D/-L… are recorded as typed, in
 * order behind the keys held before them. Line-editing keys (Backspace, DEL,
 * Ctrl-U, Ctrl-W, Tab) and Enter follow the run they fall in: inside a hidden
 * run they are swallowed too, since their number would tell the secret's length.
 *
 * Trade-offs, knowingly:
 * - Keys that do not echo but are not secrets are hidden as well: `less` and
 *   vim's normal-mode commands, a game's keys. The screen they change is still
 *   recorded; the keystroke log loses them (one marker per run). The reverse
 *   error (storing a password) is the one that must not happen.
 * - Echo is matched loosely on the line being typed (the key's character
 *   anywhere in the output after it, keys in order), because shells redraw:
 *   zsh and fish re-print the whole line with colours, readline wraps.
 *   Unrelated output that happens to hold the character within the window (a
 *   status-bar clock during a silent prompt the detector missed) would let that
 *   one key through. Once an Enter follows the keys, what the program prints is
 *   its answer, not their echo, so the keys still waiting must then come back
 *   together as one run of text (see #matchEcho); and the window is short.
 * - The window adapts to the link: three times the shortest recent echo or
 *   Enter→response delay, between ECHO_WINDOW_MIN_MS and ECHO_WINDOW_MAX_MS. On
 *   a slow link the first keys before any round trip was seen may be judged
 *   unechoed (hidden): lossy, never leaky.
 * - Keys after an Enter typed before the program answered it still see the old
 *   prompt on screen, so they are hidden too.
 * - Full-screen programs redraw with absolute cursor moves; the rendered tail
 *   (terminal-view.ts) follows them only roughly, so a prompt inside tmux may be
 *   missed by the detector and left to echo absence.
 *
 * Pure: no Node APIs. The pipeline feeds it and records what it releases.
 */
import type { HiddenInputReason } from '../../shared/redaction/markers.ts';
import { detectSecretPrompt } from '../../shared/redaction/prompts.ts';
import { renderVisible } from '../../shared/redaction/terminal-view.ts';

export const ECHO_WINDOW_MIN_MS = 150;
export const ECHO_WINDOW_MAX_MS = 1000;
/** The window is this many times the shortest recent round trip. */
const ECHO_WINDOW_RTT_FACTOR = 3;
/** Round-trip samples kept (the shortest of them is the link's, the rest is the program's thinking). */
const RTT_SAMPLES = 8;
/** Output kept for the prompt detector: prompts are short, so the last few lines are plenty. */
const TAIL_CHARS = 2048;
/** Output kept for matching the echo of a line already ended by Enter. */
const SEEN_CHARS = 64 * 1024;

/** What the gate lets the pipeline record, in order. */
export type Released =
  | { readonly kind: 'input'; readonly text: string; readonly at: number }
  | { readonly kind: 'hidden'; readonly reason: HiddenInputReason; readonly at: number };

type Entry =
  /** A printable key: a secret's character, or an ordinary one. */
  | { kind: 'key'; readonly text: string; readonly at: number; readonly deadline: number; state: 'pending' | 'echoed' | 'hidden'; reason: 'password-prompt' | 'no-echo' }
  | { kind: 'enter'; readonly text: string; readonly at: number }
  /** Backspace, DEL, Ctrl-U, Ctrl-W, Tab: follows the run it falls in. */
  | { kind: 'edit'; readonly text: string; readonly at: number }
  /** Ctrl-C, Ctrl-D: recorded, and ends any run. */
  | { kind: 'abort'; readonly text: string; readonly at: number }
  /** Escape sequences and other control keys: always recorded. */
  | { kind: 'control'; readonly text: string; readonly at: number }
  /** Keys typed while the local pty echoed them (the kernel shows them): recorded. */
  | { kind: 'echoed'; readonly text: string; readonly at: number }
  /** Keys typed while the local pty had ECHO off in line mode (termios): one marker per run. */
  | { kind: 'echo-off'; readonly at: number };

type Token = { readonly kind: 'key' | 'enter' | 'edit' | 'abort' | 'control'; readonly text: string };

// CSI (ESC [ … final), SS3 (ESC O x), OSC/DCS/SOS/PM/APC strings, two-character escapes.
// eslint-disable-next-line no-control-regex -- terminal escape sequences are made of control characters
const OUTPUT_ESCAPE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])/g;

/** Splits keystrokes into keys: escape sequences whole, one code point per printable key. */
export function tokenizeKeys(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x1b) {
      let end = i + 1;
      const next = text[end];
      if (next === '[') {
        end++;
        while (end < text.length && /[0-?]/.test(text[end]!)) end++;
        while (end < text.length && /[ -/]/.test(text[end]!)) end++;
        if (end < text.length) end++; // the final byte
      } else if (next === 'O' && end + 1 < text.length) {
        end += 2;
      } else if (next !== undefined) {
        end += String.fromCodePoint(text.codePointAt(end)!).length; // Alt + key
      }
      tokens.push({ kind: 'control', text: text.slice(i, end) });
      i = end;
      continue;
    }
    if (c === 0x0d || c === 0x0a) tokens.push({ kind: 'enter', text: text[i]! });
    else if (c === 0x08 || c === 0x7f || c === 0x15 || c === 0x17 || c === 0x09) tokens.push({ kind: 'edit', text: text[i]! });
    else if (c === 0x03 || c === 0x04) tokens.push({ kind: 'abort', text: text[i]! });
    else if (c < 0x20 || (c >= 0x80 && c < 0xa0)) tokens.push({ kind: 'control', text: text[i]! });
    else {
      const key = String.fromCodePoint(text.codePointAt(i)!);
      tokens.push({ kind: 'key', text: key });
      i += key.length;
      continue;
    }
    i++;
  }
  return tokens;
}

export class RawInputGate {
  #queue: Entry[] = [];
  /** The reason of the hidden run the released stream is in, if it is in one. */
  #run: HiddenInputReason | undefined;
  /** Keys being enqueued belong to a password prompt (until Enter). */
  #promptRun = false;
  #tail = '';
  #tailPrompt: boolean | undefined;
  /**
   * The cursor's line ends in the echo of typed keys (no line break since): what is on it is
   * the user's own typing (`grep password: notes`), not a program's prompt.
   */
  #echoOnLine = false;
  /** Visible output since the oldest key that waits for its echo (at most an echo window of it). */
  #seen: { readonly at: number; readonly text: string }[] = [];
  #cols: number;
  readonly #rtt: number[] = [];
  /** When the last raw Enter was typed, while no output has answered it yet. */
  #enterUnanswered: number | undefined;

  constructor(cols: number) {
    this.#cols = cols;
  }

  /** The echo window now: adapts to the shortest recent round trip. */
  get windowMs(): number {
    if (this.#rtt.length === 0) return ECHO_WINDOW_MIN_MS;
    const shortest = Math.min(...this.#rtt);
    return Math.min(ECHO_WINDOW_MAX_MS, Math.max(ECHO_WINDOW_MIN_MS, ECHO_WINDOW_RTT_FACTOR * shortest));
  }

  /** When the first held key's window ends (pty clock), or undefined if nothing waits for an echo. */
  get nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const entry of this.#queue) if (entry.kind === 'key' && entry.state === 'pending') next = next === undefined ? entry.deadline : Math.min(next, entry.deadline);
    return next;
  }

  resize(cols: number): void {
    this.#cols = cols;
    this.#tailPrompt = undefined;
  }

  /** Keys typed while the local pty was raw (or its mode unknown). */
  rawInput(text: string, at: number): Released[] {
    const out = this.#expire(at);
    for (const token of tokenizeKeys(text)) {
      switch (token.kind) {
        case 'key': {
          if (!this.#promptRun && this.#screenShowsPrompt()) this.#promptRun = true;
          const hidden = this.#promptRun;
          this.#queue.push({
            kind: 'key',
            text: token.text,
            at,
            deadline: at + this.windowMs,
            state: hidden ? 'hidden' : 'pending',
            reason: hidden ? 'password-prompt' : 'no-echo',
          });
          break;
        }
        case 'enter':
          this.#promptRun = false;
          this.#enterUnanswered = at;
          this.#queue.push({ kind: 'enter', text: token.text, at });
          break;
        case 'abort':
          this.#promptRun = false;
          this.#queue.push({ kind: 'abort', text: token.text, at });
          break;
        case 'edit':
        case 'control':
          this.#queue.push({ kind: token.kind, text: token.text, at });
          break;
        default:
          token.kind satisfies never;
      }
    }
    return [...out, ...this.#drain()];
  }

  /** Keys typed while the local pty echoed (the kernel shows them): recorded, in order. */
  echoedInput(text: string, at: number): Released[] {
    const out = this.#expire(at);
    this.#promptRun = false;
    this.#queue.push({ kind: 'echoed', text, at });
    return [...out, ...this.#drain()];
  }

  /** Keys typed while the local pty had ECHO off in line mode (the main thread sends one per run). */
  echoOff(at: number): Released[] {
    const out = this.#expire(at);
    this.#queue.push({ kind: 'echo-off', at });
    return [...out, ...this.#drain()];
  }

  /**
   * Output, as decoded text (never stored from here). What it confirms is
   * released before it, so a key is recorded ahead of its echo.
   */
  output(text: string, at: number): Released[] {
    const out = this.#expire(at);
    if (this.#enterUnanswered !== undefined) {
      this.#sampleRtt(at - this.#enterUnanswered);
      this.#enterUnanswered = undefined;
    }
    if (this.#queue.length > 0) this.#matchEcho(text, at);
    else if (/[\r\n]/.test(text)) this.#echoOnLine = false;
    this.#appendTail(text);
    // A prompt run ends when the screen no longer ends in a prompt (the program moved on).
    if (this.#promptRun && !this.#screenShowsPrompt()) this.#promptRun = false;
    return [...out, ...this.#drain()];
  }

  /** Time has passed (pty clock): keys whose window ended without their echo are hidden. */
  expire(now: number): Released[] {
    return [...this.#expire(now), ...this.#drain()];
  }

  /** The stream ends: keys still waiting for an echo did not get it, so they are hidden. */
  settle(): Released[] {
    for (const entry of this.#queue) if (entry.kind === 'key' && entry.state === 'pending') entry.state = 'hidden';
    return this.#drain();
  }

  #expire(now: number): Released[] {
    let changed = false;
    for (const entry of this.#queue) {
      if (entry.kind === 'key' && entry.state === 'pending' && entry.deadline < now) {
        entry.state = 'hidden';
        changed = true;
      }
    }
    return changed ? this.#drain() : [];
  }

  /**
   * Confirms held keys by their echo. Keys of the line being typed (no Enter after them yet)
   * are confirmed loosely: each character anywhere in the output, keys in order, because
   * shells redraw (zsh and fish re-print the line in colour). Keys of a line already ended by
   * an Enter must come back together, as one run of text, in the output since they were typed:
   * a program's answer after a silent read ("alice@host:~$ ") may hold a password's characters
   * one by one, hardly all of them in a row, while a fast typist's echo over a slow link
   * ("ls\r\n…") and type-ahead echoed at the next prompt do.
   */
  #matchEcho(text: string, at: number): void {
    const visible = text.replace(OUTPUT_ESCAPE, '');
    this.#seen.push({ at, text: visible });
    let line: Extract<Entry, { kind: 'key' }>[] = [];
    for (const entry of this.#queue) {
      if (entry.kind === 'enter') {
        const pending = line.filter((key) => key.state === 'pending');
        if (pending.length > 0) {
          const since = this.#seen.filter((chunk) => chunk.at >= pending[0]!.at).map((chunk) => chunk.text).join('');
          if (since.includes(pending.map((key) => key.text).join(''))) {
            for (const key of pending) {
              key.state = 'echoed';
              this.#sampleRtt(at - key.at);
            }
          }
        }
        line = [];
      } else if (entry.kind === 'key') {
        line.push(entry);
      }
    }
    // The open line: loose, in order, within this output.
    let k = 0;
    let lastEcho = -1;
    for (let i = 0; i < visible.length && k < line.length; i++) {
      for (let j = k; j < line.length; j++) {
        const key = line[j]!;
        if (key.state !== 'pending' || !visible.startsWith(key.text, i)) continue;
        key.state = 'echoed';
        this.#sampleRtt(at - key.at);
        lastEcho = i;
        k = j + 1;
        break;
      }
    }
    const breakAfter = /[\r\n]/.test(visible.slice(lastEcho + 1));
    if (lastEcho >= 0) this.#echoOnLine = !breakAfter;
    else if (breakAfter) this.#echoOnLine = false;
    this.#forgetSeen();
  }

  /** Keeps the output seen since the oldest key still waiting, and no more. */
  #forgetSeen(): void {
    let oldest: number | undefined;
    for (const entry of this.#queue) if (entry.kind === 'key' && entry.state === 'pending') oldest = Math.min(oldest ?? entry.at, entry.at);
    if (oldest === undefined) this.#seen = [];
    else this.#seen = this.#seen.filter((chunk) => chunk.at >= oldest);
    // Heavy output while keys wait (a build log): an echo buried deeper than this is not looked for.
    let size = 0;
    for (let i = this.#seen.length - 1; i >= 0; i--) {
      size += this.#seen[i]!.text.length;
      if (size > SEEN_CHARS) {
        this.#seen = this.#seen.slice(i + 1);
        break;
      }
    }
  }

  #sampleRtt(ms: number): void {
    this.#rtt.push(Math.max(0, ms));
    if (this.#rtt.length > RTT_SAMPLES) this.#rtt.shift();
  }

  /** Releases decided entries from the front, in order; stops at the first key still waiting. */
  #drain(): Released[] {
    const out: Released[] = [];
    const emitInput = (text: string, at: number): void => {
      const last = out[out.length - 1];
      if (last !== undefined && last.kind === 'input' && last.at === at) out[out.length - 1] = { kind: 'input', text: last.text + text, at };
      else out.push({ kind: 'input', text, at });
    };
    while (this.#queue.length > 0) {
      const entry = this.#queue[0]!;
      if (entry.kind === 'key' && entry.state === 'pending') break;
      this.#queue.shift();
      switch (entry.kind) {
        case 'key':
          if (entry.state === 'echoed') {
            this.#run = undefined;
            emitInput(entry.text, entry.at);
          } else if (this.#run !== entry.reason) {
            // One marker per run: not the keys, not their number.
            this.#run = entry.reason;
            out.push({ kind: 'hidden', reason: entry.reason, at: entry.at });
          }
          break;
        case 'enter':
          if (this.#run === undefined) emitInput(entry.text, entry.at);
          this.#run = undefined;
          break;
        case 'edit':
          if (this.#run === undefined) emitInput(entry.text, entry.at);
          break;
        case 'abort':
          this.#run = undefined;
          emitInput(entry.text, entry.at);
          break;
        case 'control':
          emitInput(entry.text, entry.at);
          break;
        case 'echoed':
          this.#run = undefined;
          emitInput(entry.text, entry.at);
          break;
        case 'echo-off':
          this.#run = undefined;
          out.push({ kind: 'hidden', reason: 'echo-off', at: entry.at });
          break;
        default:
          entry satisfies never;
      }
    }
    return out;
  }

  #appendTail(text: string): void {
    if (text.length === 0) return;
    this.#tailPrompt = undefined;
    this.#tail += text;
    if (this.#tail.length > TAIL_CHARS) {
      // Keep whole lines where possible, so that no escape sequence is cut in half at the start.
      const cut = this.#tail.length - TAIL_CHARS / 2;
      const newline = this.#tail.indexOf('\n', cut);
      this.#tail = this.#tail.slice(newline >= 0 ? newline + 1 : cut);
    }
  }

  /** Does the screen, as rendered, end with a program's secret prompt? Cached until output or a resize. */
  #screenShowsPrompt(): boolean {
    if (this.#echoOnLine) return false;
    this.#tailPrompt ??= detectSecretPrompt(renderVisible(this.#tail, this.#cols).text) !== undefined;
    return this.#tailPrompt;
  }
}
