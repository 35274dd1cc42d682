/**
 * The record path of one session, run in its own worker thread so that the
 * pty thread only moves bytes (display path, keystrokes) and the recording
 * uses the second core:
 *
 *   output bytes → UTF-8 decode → redaction → asciicast line → Merkle leaf → spool
 *
 * Output that arrives within OUTPUT_COALESCE_MS and within one event-loop turn
 * becomes one event line (up to MAX_EVENT_CHARS), which keeps lines few and
 * large under heavy output while replay timing stays faithful. Checkpoints (signed notes over the
 * Merkle root) fall due on every input, every 250 ms or 1 MiB of output, every
 * resize and marker, and at the end (the seal); the cast is fdatasync'ed before
 * the checkpoint that covers it.
 *
 * Keystrokes go through a RawInputGate (raw-input.ts) before redaction: keys
 * typed while the local pty was raw are held until their echo is known, and
 * hidden if a secret prompt is on screen or they are not echoed. The gate sees
 * output and input in the order the pty thread saw them, which is what it needs.
 */
import { sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import {
  MerkleAccumulator,
  formatCheckpoint,
  serializeEvent,
  serializeHeader,
  signNote,
  utf8,
  type CastEvent,
  type CheckpointKind,
  type Ed25519Signer,
} from '../../shared/bundle/index.ts';
import { hiddenInputMarker } from '../../shared/redaction/markers.ts';
import { HIDDEN_INPUT_COUNT } from '../../shared/redaction/policy.ts';
import { nodeSuite } from '../../node-adapters/crypto.ts';
import type { RedactedPiece, Redactor } from '../../shared/redaction/redactor.ts';
import { sessionRedactor } from '../redaction.ts';
import { AppendLog, SPOOL_FILES, type SpoolWriteError } from '../spool.ts';
import type { FromRecordWorker, RecordWorkerData } from './messages.ts';
import { RawInputGate, type Released } from './raw-input.ts';

/** What the pipeline itself needs: the worker's start data, less the ring the worker reads. */
export type PipelineData = Omit<RecordWorkerData, 'ring'>;

export const CHECKPOINT_INTERVAL_MS = 250;
export const CHECKPOINT_OUTPUT_BYTES = 1024 * 1024;
const INPUT_CHECKPOINT_DELAY_MS = 2;
/** How long output must be quiet before the redactor releases what it holds back (checked on the checkpoint tick). */
const REDACTION_IDLE_MS = 200;
/** Output that arrived within this many milliseconds of the first pending byte shares its event. */
export const OUTPUT_COALESCE_MS = 5;
/** Output data per event line: keeps every line far below the format's 1 MiB cap even when JSON-escaped. */
export const MAX_EVENT_CHARS = 16 * 1024;
/**
 * A bundle entry must fit the readers' 2 GiB cap (shared/bundle/zip.ts). Past
 * this many bytes of recording the session is ended and sealed with a message,
 * rather than going on unrecorded or producing a bundle nobody can open.
 */
export const MAX_RECORDING_BYTES = 2 ** 31 - 64 * 1024 * 1024;

function keySigner(privateKey: KeyObject, publicKey: Uint8Array): Ed25519Signer {
  return { publicKey, sign: (message) => new Uint8Array(sign(null, message, privateKey)) };
}

export class RecordPipeline {
  readonly #data: PipelineData;
  readonly #post: (message: FromRecordWorker) => void;
  readonly #cast: AppendLog;
  readonly #notes: AppendLog;
  readonly #signer: Ed25519Signer;
  readonly #tree = new MerkleAccumulator(nodeSuite);
  readonly #decoder = new TextDecoder('utf-8');
  readonly #redactor: Redactor;
  readonly #keys: RawInputGate;
  #lastAt: number;
  #pendingText = '';
  #pendingAt = 0;
  #pendingScheduled = false;
  #rawOutput = 0;
  #prevHash: Uint8Array;
  #checkpointedSize = 0;
  #outputSinceCheckpoint = 0;
  #dueKind: CheckpointKind | undefined;
  #checkpointLoop: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;
  #failed = false;
  #limited = false;
  #hiddenInputs = 0;
  #lastOutputAt = 0;
  #ended = false;

  private constructor(data: PipelineData, post: (message: FromRecordWorker) => void, cast: AppendLog, notes: AppendLog) {
    this.#data = data;
    this.#post = post;
    this.#cast = cast;
    this.#notes = notes;
    this.#signer = keySigner(data.sessionKey, data.sessionPublicKey);
    this.#redactor = sessionRedactor({ policy: data.policy, knownSecrets: data.knownSecrets, key: data.redactionKey, cols: data.header.term.cols });
    this.#keys = new RawInputGate(data.header.term.cols);
    this.#lastAt = data.startAt;
    this.#prevHash = data.firstPrev;
    this.#timer = setInterval(() => {
      // Held-back text (a tail that could still have become a secret) goes out once output is idle.
      if (this.#redactor.holding && performance.now() - this.#lastOutputAt >= REDACTION_IDLE_MS) {
        this.#takeOutput(this.#redactor.idle(), this.#lastOutputAt);
        this.#recordPieces('i', this.#redactor.flushInput(), this.#lastOutputAt);
      }
      if (this.#tree.size > this.#checkpointedSize) this.#requestCheckpoint('interval');
    }, CHECKPOINT_INTERVAL_MS);
  }

  /** Opens the spool's logs and writes the header. Throws SpoolWriteError if the disk refuses. */
  static async start(data: PipelineData, post: (message: FromRecordWorker) => void): Promise<RecordPipeline> {
    // The logs report failures to the pipeline, which does not exist until they are open.
    const holder: { pipeline?: RecordPipeline } = {};
    const onFailure = (error: SpoolWriteError): void => holder.pipeline?.fail(error);
    const cast = await AppendLog.open(join(data.spoolDir, SPOOL_FILES.cast), onFailure);
    const notes = await AppendLog.open(join(data.spoolDir, SPOOL_FILES.notes), onFailure);
    const pipeline = new RecordPipeline(data, post, cast, notes);
    holder.pipeline = pipeline;
    pipeline.#appendLine(serializeHeader(data.header));
    pipeline.#requestCheckpoint('open');
    return pipeline;
  }

  // -- events from the pty thread ---------------------------------------------

  output(data: Uint8Array, at: number): void {
    if (this.#stopped) return;
    this.#lastOutputAt = at;
    this.#rawOutput += data.length;
    const text = this.#decoder.decode(data, { stream: true });
    // Keys this output echoes are recorded first: input before its echo, as it happened.
    this.#takeKeys(this.#keys.output(text, at));
    this.#takeOutput(this.#redactor.output(text), at);
    this.#outputSinceCheckpoint += data.length;
    if (this.#outputSinceCheckpoint >= CHECKPOINT_OUTPUT_BYTES) this.#requestCheckpoint('size');
    if (this.#cast.appendedBytes >= MAX_RECORDING_BYTES) {
      this.#limited = true;
      this.#post({ t: 'limit' });
    }
  }

  /** Keys typed while the local pty echoed them (the kernel shows them). */
  input(text: string, at: number): void {
    if (this.#stopped) return;
    this.#takeKeys(this.#keys.echoedInput(text, at));
  }

  /** Keys typed while the local pty was raw: the gate holds them until their echo is known. */
  inputRaw(text: string, at: number): void {
    if (this.#stopped) return;
    this.#takeKeys(this.#keys.rawInput(text, at));
  }

  /**
   * Keys are being typed that the local pty does not echo (ECHO off in line
   * mode: a password prompt). The pty thread sends one per run, without the keys.
   */
  inputHidden(at: number): void {
    if (this.#stopped) return;
    this.#takeKeys(this.#keys.echoOff(at));
  }

  /** When the gate next needs the time (pty clock) to judge a held key, if it holds one. */
  get inputDeadline(): number | undefined {
    return this.#stopped ? undefined : this.#keys.nextDeadline;
  }

  /** The time is `now` (pty clock): held keys whose echo window has passed are judged. */
  tick(now: number): void {
    if (this.#stopped) return;
    this.#takeKeys(this.#keys.expire(now));
  }

  resize(cols: number, rows: number, at: number): void {
    if (this.#stopped) return;
    this.#redactor.resize(cols);
    this.#keys.resize(cols);
    this.#flushOutput();
    this.#record({ interval: this.#intervalTo(at), code: 'r', data: `${cols}x${rows}` });
    this.#requestCheckpoint('resize');
  }

  /** The program exited: record what is left, the exit event, and the seal. */
  async end(status: number, at: number): Promise<void> {
    if (this.#ended || this.#failed) return;
    this.#ended = true;
    clearInterval(this.#timer);
    this.#takeKeys(this.#keys.settle());
    this.#takeOutput(this.#redactor.output(this.#decoder.decode()), at);
    this.#takeOutput(this.#redactor.end(), at);
    this.#recordPieces('i', this.#redactor.flushInput(), at);
    this.#flushOutput();
    this.#record({ interval: this.#intervalTo(at), code: 'x', data: String(status) });
    this.#requestCheckpoint('seal');
    while (this.#checkpointLoop !== undefined) await this.#checkpointLoop;
    await this.#cast.close();
    await this.#notes.close();
    const counts = { ...this.#redactor.counts() };
    if (this.#hiddenInputs > 0) counts[HIDDEN_INPUT_COUNT] = (counts[HIDDEN_INPUT_COUNT] ?? 0) + this.#hiddenInputs;
    if (!this.#failed) this.#post({ t: 'sealed', redactionCounts: counts });
  }

  get #stopped(): boolean {
    return this.#ended || this.#failed || this.#limited;
  }

  // -- lines ------------------------------------------------------------------

  /** Output text waits for the end of this turn so that a burst becomes one event. */
  #takeOutput(pieces: readonly RedactedPiece[], at: number): void {
    for (const piece of pieces) {
      if (piece.kind === 'marker') {
        this.#flushOutput();
        this.#record({ interval: this.#intervalTo(at), code: 'm', data: piece.label });
        this.#requestCheckpoint('marker');
        continue;
      }
      if (piece.text.length === 0) continue;
      // Keep replay timing faithful: output from a later moment gets its own event.
      if (this.#pendingText.length > 0 && at - this.#pendingAt > OUTPUT_COALESCE_MS) this.#flushOutput();
      if (this.#pendingText.length === 0) this.#pendingAt = at;
      this.#pendingText += piece.text;
      if (this.#pendingText.length >= MAX_EVENT_CHARS) this.#flushOutput(true);
    }
    if (this.#pendingText.length > 0 && !this.#pendingScheduled) {
      this.#pendingScheduled = true;
      setImmediate(() => {
        this.#pendingScheduled = false;
        this.#flushOutput();
      });
    }
  }

  /** Writes pending output as events of at most MAX_EVENT_CHARS; with `wholeOnly`, keeps a short rest pending. */
  #flushOutput(wholeOnly = false): void {
    const text = this.#pendingText;
    if (text.length === 0) return;
    let interval = this.#intervalTo(this.#pendingAt);
    let start = 0;
    while (start < text.length) {
      if (wholeOnly && text.length - start < MAX_EVENT_CHARS) break;
      let end = Math.min(start + MAX_EVENT_CHARS, text.length);
      const code = text.charCodeAt(end - 1);
      if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--; // never split a surrogate pair
      this.#record({ interval, code: 'o', data: text.slice(start, end) });
      interval = 0;
      start = end;
    }
    this.#pendingText = text.slice(start);
  }

  /** Records what the key gate released: keys (through the redactor) and hidden-input markers. */
  #takeKeys(released: readonly Released[]): void {
    for (const item of released) {
      if (this.#redactor.holding) this.#takeOutput(this.#redactor.releaseOutput(), this.#lastOutputAt);
      this.#flushOutput();
      if (item.kind === 'input') {
        this.#recordPieces('i', this.#redactor.input(item.text), item.at);
        // A few milliseconds later: a burst of keys shares one checkpoint.
        this.#requestCheckpoint('input', INPUT_CHECKPOINT_DELAY_MS);
      } else {
        // One marker and nothing else: not the keys, not their number.
        this.#record({ interval: this.#intervalTo(item.at), code: 'm', data: hiddenInputMarker(item.reason) });
        this.#hiddenInputs++;
        this.#requestCheckpoint('marker');
      }
    }
  }

  #recordPieces(code: 'i', pieces: readonly RedactedPiece[], at: number): void {
    for (const piece of pieces) {
      if (piece.kind === 'marker') {
        this.#record({ interval: this.#intervalTo(at), code: 'm', data: piece.label });
        this.#requestCheckpoint('marker');
      } else if (piece.text.length > 0) {
        this.#record({ interval: this.#intervalTo(at), code, data: piece.text });
      }
    }
  }

  #intervalTo(at: number): number {
    const interval = Math.max(0, at - this.#lastAt) / 1000;
    this.#lastAt = Math.max(this.#lastAt, at);
    return interval;
  }

  #record(event: CastEvent): void {
    this.#appendLine(serializeEvent(event));
  }

  #appendLine(text: string): void {
    if (this.#failed) return;
    this.#tree.appendLine(this.#cast.appendLine(text));
  }

  // -- checkpoints ------------------------------------------------------------

  #requestCheckpoint(kind: CheckpointKind, delayMs = 0): void {
    // A seal outranks everything; otherwise the latest reason is as good as any.
    if (this.#dueKind !== 'seal') this.#dueKind = kind;
    this.#checkpointLoop ??= new Promise<void>((resolve) => (delayMs > 0 ? setTimeout(resolve, delayMs) : setImmediate(resolve))).then(() =>
      this.#runCheckpoints(),
    );
  }

  async #runCheckpoints(): Promise<void> {
    try {
      while (this.#dueKind !== undefined && !this.#failed) {
        const kind = this.#dueKind;
        this.#dueKind = undefined;
        if (kind !== 'seal') this.#flushOutput();
        const size = this.#tree.size;
        if (size === this.#checkpointedSize && kind !== 'seal' && kind !== 'open') continue;
        const root = this.#tree.root();
        const outputCovered = this.#outputSinceCheckpoint;
        const rawCovered = this.#rawOutput;
        await this.#cast.sync(); // the data first, then the checkpoint that covers it
        const text = formatCheckpoint({ origin: this.#data.origin, size, root, kind, time: Date.now(), prev: this.#prevHash });
        const note = signNote(nodeSuite, text, this.#data.keyName, this.#signer);
        this.#notes.appendBytes(utf8(note + '\n'));
        await this.#notes.sync();
        this.#prevHash = nodeSuite.sha256(utf8(text)); // the signed text: cosignatures may be added to notes later
        this.#checkpointedSize = size;
        this.#outputSinceCheckpoint -= outputCovered;
        this.#post({ t: 'checkpoint', kind, size, note });
        this.#post({ t: 'progress', checkpointed: rawCovered });
      }
    } catch {
      // A spool failure has been reported by #fail.
    } finally {
      this.#checkpointLoop = undefined;
    }
  }

  /** The spool refused a write: stop recording and tell the pty thread (fail closed). */
  fail(error: SpoolWriteError): void {
    if (this.#failed) return;
    this.#failed = true;
    clearInterval(this.#timer);
    this.#post({ t: 'failed', message: error.message });
  }
}
