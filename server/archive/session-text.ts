/**
 * The text of a recording that search indexes: the output events' data (already redacted by the
 * recorder before it was hashed), with terminal escape sequences and other control characters
 * removed, so that `kubectl get pods` is found however it was coloured. Input events are not
 * indexed: what matters is what the session showed, and hidden input is never stored anyway.
 */
import type { CastEvent } from '../../shared/bundle/asciicast.ts';
import { parseRecording } from '../../shared/bundle/reader.ts';
import { ESCAPE } from '../../shared/redaction/line-view.ts';
import { chunkEnd, TEXT_CHUNK, textChunks } from './archive-store.ts';

// C0 controls other than tab and newline, and DEL: cursor motion leftovers, bells.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this removes
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

const CRLF = /\r\n?/g;

export function plainText(output: string): string {
  return output.replace(ESCAPE, '').replace(CRLF, '\n').replace(CONTROLS, '');
}

const ESC = '\x1b';
/** Characters of output held before they are cleaned and cut into chunks. */
const FLUSH_CHARACTERS = 1024 * 1024;

/**
 * Where `raw` may be cut so that no ESCAPE match spans the cut: at an ESC (no escape sequence
 * holds one, except ST `ESC \`, so not before a backslash, nor at the end where the next character
 * is unknown), or anywhere when there is no ESC at all. 0 when no such place is known yet.
 */
function escapeSafeCut(raw: string): number {
  let at = raw.lastIndexOf(ESC);
  if (at < 0) return raw.length;
  while (at > 0 && (at === raw.length - 1 || raw[at + 1] === '\\')) at = raw.lastIndexOf(ESC, at - 1);
  return Math.max(at, 0);
}

/**
 * Collects the output of events as something else parses them (ingest: the verifier's onEvent)
 * and cleans and cuts it as it goes, so that the recording is parsed once and only the chunks
 * stay in memory, not the events and several copies of the whole text. The chunks are exactly
 * `textChunks(plainText(all output))`: the output is cut only where no escape sequence spans the
 * cut, and a trailing CR waits for the LF that may follow.
 */
export class SessionTextCollector {
  readonly #flushAt: number;
  #raw: string[] = [];
  #rawLength = 0;
  /** Flush when this much output is held; doubled past what a flush could not cut, so that holding stays linear. */
  #nextFlush: number;
  /** A CR at the end of what was cleaned: with a LF at the start of what follows it is one newline. */
  #heldCr = '';
  /** Cleaned text not yet cut into chunks. */
  #plain = '';
  readonly #chunks: string[] = [];

  constructor(flushAt = FLUSH_CHARACTERS) {
    this.#flushAt = flushAt;
    this.#nextFlush = flushAt;
  }

  readonly onEvent = (event: CastEvent): void => {
    if (event.code !== 'o') return;
    this.#raw.push(event.data);
    this.#rawLength += event.data.length;
    if (this.#rawLength >= this.#nextFlush) this.#flush(false);
  };

  #flush(final: boolean): void {
    const raw = this.#raw.join('');
    const cut = final ? raw.length : escapeSafeCut(raw);
    this.#raw = cut < raw.length ? [raw.slice(cut)] : [];
    this.#rawLength = raw.length - cut;
    this.#nextFlush = Math.max(this.#flushAt, 2 * this.#rawLength);
    // plainText's three passes, in its order, on what is safe to clean.
    let stage = this.#heldCr + raw.slice(0, cut).replace(ESCAPE, '');
    this.#heldCr = '';
    if (!final && stage.endsWith('\r')) {
      stage = stage.slice(0, -1);
      this.#heldCr = '\r';
    }
    this.#plain += stage.replace(CRLF, '\n').replace(CONTROLS, '');
    // Whole chunks, by textChunks' rule: only while more text follows the chunk.
    let start = 0;
    while (this.#plain.length - start > TEXT_CHUNK) {
      const end = chunkEnd(this.#plain, start, TEXT_CHUNK);
      this.#chunks.push(this.#plain.slice(start, end));
      start = end;
    }
    this.#plain = this.#plain.slice(start);
  }

  /** The text's chunks for the index (textChunks of the cleaned output). */
  chunks(): string[] {
    this.#flush(true);
    const chunks = [...this.#chunks, ...textChunks(this.#plain)];
    this.#chunks.length = 0;
    this.#plain = '';
    return chunks;
  }
}

/** The indexable text of a verified recording's `session.cast` bytes. */
export function sessionText(cast: Uint8Array): string {
  let out = '';
  for (const event of parseRecording(cast).events) if (event.code === 'o') out += event.data;
  return plainText(out);
}
