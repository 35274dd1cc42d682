/**
 * One recorded pty session.
 *
 *   pty ──▶ display path: `output` event with the raw bytes, at once
 *       └─▶ record path: UTF-8 decode → redaction → asciicast line → Merkle leaf → spool
 *
 * Checkpoints (signed notes over the Merkle root) fall due on every input, every
 * 250 ms or 1 MiB of output, every resize and marker, and at exit (the seal).
 * They run on their own loop: the spool is fdatasync'ed, then the note is signed
 * and appended. Nothing on the keystroke echo path waits for a disk or a signature.
 */
import { randomBytes } from 'node:crypto';
import * as pty from 'node-pty';
import {
  MerkleAccumulator,
  SESSION_KEY_PAYLOAD_TYPE,
  FORMAT_VERSION,
  formatCheckpoint,
  originForSession,
  serializeEnvelope,
  serializeEvent,
  serializeHeader,
  signEnvelope,
  signNote,
  toBase64,
  utf8,
  type CastEvent,
  type CheckpointKind,
  type Ed25519Signer,
  type SessionKeyCert,
} from '../shared/bundle/index.ts';
import { ephemeralSigner, nodeSuite } from './node-crypto.ts';
import type { OpenCall, RecorderEvent } from './protocol.ts';
import type { RedactedPiece, Redactor } from './redaction.ts';
import { Spool, type SpoolMeta } from './spool.ts';

export const CHECKPOINT_INTERVAL_MS = 250;
export const CHECKPOINT_OUTPUT_BYTES = 1024 * 1024;
/** Output data per event line: keeps every line far below the format's 1 MiB cap even when JSON-escaped. */
const MAX_EVENT_CHARS = 16 * 1024;
/** Backpressure: pause the pty while this much is queued for the disk, resume below the low mark. */
const SPOOL_HIGH_WATER = 16 * 1024 * 1024;
const SPOOL_LOW_WATER = 4 * 1024 * 1024;
/**
 * A bundle entry must fit the readers' 2 GiB cap (shared/bundle/zip.ts). Past
 * this many bytes of recording the session is ended and sealed with a message,
 * rather than going on unrecorded or producing a bundle nobody can open.
 */
export const MAX_RECORDING_BYTES = 2 ** 31 - 64 * 1024 * 1024;

export interface SessionDeps {
  readonly spoolRoot: string;
  readonly deviceKey: Ed25519Signer;
  readonly redactor: Redactor;
  readonly emit: (event: RecorderEvent) => void;
  /** Called once the session has been sealed (or has failed): pack and clean up. */
  readonly onEnded: (session: RecordedSession, outcome: SessionOutcome) => void;
}

export type SessionOutcome =
  | { readonly kind: 'sealed'; readonly exitStatus: number; readonly endedAt: number }
  | { readonly kind: 'failed'; readonly error: Error };

function sessionKeyName(sessionId: string): string {
  return `custody-session-${sessionId}`;
}

/** Splits text into pieces of at most `max` UTF-16 units without cutting a surrogate pair. */
function* slices(text: string, max: number): Generator<string> {
  let start = 0;
  while (text.length - start > max) {
    let end = start + max;
    const code = text.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end--;
    yield text.slice(start, end);
    start = end;
  }
  if (start < text.length) yield text.slice(start);
}

export class RecordedSession {
  readonly id: string;
  readonly meta: SpoolMeta;
  readonly spool: Spool;
  readonly #deps: SessionDeps;
  readonly #sessionKey: Ed25519Signer;
  readonly #keyName: string;
  readonly #tree = new MerkleAccumulator(nodeSuite);
  readonly #decoder = new TextDecoder('utf-8');
  #pty: pty.IPty | undefined;
  #lastEventAt = 0;
  #prevNoteHash: Uint8Array;
  #checkpointedSize = 0;
  #outputSinceCheckpoint = 0;
  #dueKind: CheckpointKind | undefined;
  #checkpointLoop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  #recordInput = true;
  #ended = false;
  #exit: { exitCode: number; signal: number | null } | undefined;
  #recordedBytes = 0;
  #limitReached = false;

  private constructor(id: string, meta: SpoolMeta, spool: Spool, sessionKey: Ed25519Signer, certBytes: Uint8Array, deps: SessionDeps) {
    this.id = id;
    this.meta = meta;
    this.spool = spool;
    this.#deps = deps;
    this.#sessionKey = sessionKey;
    this.#keyName = sessionKeyName(id);
    // RFC-style chaining: the first note points at the session key certificate.
    this.#prevNoteHash = nodeSuite.sha256(certBytes);
    spool.onFailure((error) => this.#failClosed(error));
  }

  /**
   * Creates the spool and certifies a fresh session key; only then spawns the
   * pty. If the spool cannot be created, no process is started (fail closed).
   */
  static async open(call: OpenCall, bundlePath: string, deps: SessionDeps): Promise<RecordedSession> {
    const startedAt = Date.now();
    const origin = originForSession(call.sessionId);
    const sessionKey = ephemeralSigner();
    const cert: SessionKeyCert = {
      formatVersion: FORMAT_VERSION,
      sessionId: call.sessionId,
      origin,
      keyName: sessionKeyName(call.sessionId),
      publicKey: toBase64(sessionKey.publicKey),
      devicePublicKey: toBase64(deps.deviceKey.publicKey),
      issuedAt: startedAt,
    };
    const certBytes = serializeEnvelope(signEnvelope(nodeSuite, SESSION_KEY_PAYLOAD_TYPE, utf8(JSON.stringify(cert)), deps.deviceKey));
    const meta: SpoolMeta = {
      version: 1,
      sessionId: call.sessionId,
      origin,
      startedAt,
      command: [call.command, ...call.args],
      cwd: call.cwd,
      metadata: call.metadata,
      policyVersion: deps.redactor.policyVersion,
      bundlePath,
    };
    const spool = await Spool.create(deps.spoolRoot, meta, certBytes);
    const session = new RecordedSession(call.sessionId, meta, spool, sessionKey, certBytes, deps);
    session.#start(call);
    return session;
  }

  #start(call: OpenCall): void {
    this.#recordInput = call.redactionPolicy.recordInput;
    const term = call.env['TERM'] ?? 'xterm-256color';
    this.#appendLine(
      serializeHeader({
        version: 3,
        term: { cols: call.cols, rows: call.rows, type: term },
        timestamp: Math.floor(this.meta.startedAt / 1000),
        // The manifest keeps the exact argv; the header's display string is kept short.
        command: this.meta.command.join(' ').slice(0, 4096),
        env: { TERM: term, ...(call.env['SHELL'] === undefined ? {} : { SHELL: call.env['SHELL'] }) },
      }),
    );
    this.#lastEventAt = performance.now();
    this.#requestCheckpoint('open');
    try {
      this.#pty = pty.spawn(call.command, call.args, {
        name: term,
        cols: call.cols,
        rows: call.rows,
        cwd: call.cwd,
        env: call.env,
        encoding: null, // raw bytes: the display gets exactly what the program wrote
      });
    } catch (error) {
      // The program could not start: record why, seal, and report.
      this.#recordText('o', `custody: cannot start ${call.command}: ${(error as Error).message}\r\n`);
      this.#exit = { exitCode: 127, signal: null };
      void this.#seal();
      return;
    }
    this.#pty.onData((data) => this.#onOutput(data as unknown as Buffer));
    this.#pty.onExit(({ exitCode, signal }) => {
      this.#exit = { exitCode, signal: signal ?? null };
      // node-pty may deliver the last output just after exit; let it land first.
      setTimeout(() => void this.#seal(), 20);
    });
    this.#timer = setInterval(() => {
      if (this.#tree.size > this.#checkpointedSize) this.#requestCheckpoint('interval');
    }, CHECKPOINT_INTERVAL_MS);
  }

  get pid(): number | undefined {
    return this.#pty?.pid;
  }

  // -- display path and record path ------------------------------------------

  #onOutput(data: Buffer): void {
    if (this.#ended || this.#limitReached) return; // nothing is shown that is not recorded
    this.#deps.emit({ type: 'output', sessionId: this.id, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    this.#recordPieces('o', this.#deps.redactor.output(this.#decoder.decode(data, { stream: true })));
    this.#outputSinceCheckpoint += data.length;
    if (this.#outputSinceCheckpoint >= CHECKPOINT_OUTPUT_BYTES) this.#requestCheckpoint('size');
    if (this.#recordedBytes >= MAX_RECORDING_BYTES) this.#endAtLimit();
    if (!this.#paused && this.spool.pendingBytes > SPOOL_HIGH_WATER) {
      this.#paused = true;
      this.#pty?.pause();
      void this.spool.cast.sync().then(
        () => this.#resumeWhenDrained(),
        () => undefined,
      );
    }
  }

  #resumeWhenDrained(): void {
    if (this.spool.pendingBytes <= SPOOL_LOW_WATER) {
      this.#paused = false;
      if (!this.#ended) this.#pty?.resume();
    } else {
      setTimeout(() => this.#resumeWhenDrained(), 5);
    }
  }

  #endAtLimit(): void {
    this.#limitReached = true;
    this.#deps.emit({
      type: 'error',
      sessionId: this.id,
      code: 'recording-limit',
      message: `The recording reached its size limit (${Math.floor(MAX_RECORDING_BYTES / 2 ** 20)} MiB), so the session was ended and sealed. Start a new session to go on.`,
      fatal: true,
    });
    try {
      this.#pty?.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  input(data: string): void {
    if (this.#ended || this.#limitReached || this.#pty === undefined) return;
    this.#pty.write(data); // echo path first
    if (!this.#recordInput) return; // policy: keystrokes are never stored
    this.#recordPieces('i', this.#deps.redactor.input(data));
    this.#requestCheckpoint('input');
  }

  resize(cols: number, rows: number): void {
    if (this.#ended || this.#pty === undefined) return;
    this.#pty.resize(cols, rows);
    this.#recordEvent({ interval: this.#tick(), code: 'r', data: `${cols}x${rows}` });
    this.#requestCheckpoint('resize');
  }

  close(): void {
    if (this.#ended) return;
    this.#pty?.kill('SIGHUP');
  }

  #tick(): number {
    const now = performance.now();
    const interval = (now - this.#lastEventAt) / 1000;
    this.#lastEventAt = now;
    return interval;
  }

  #recordPieces(code: 'o' | 'i', pieces: readonly RedactedPiece[]): void {
    for (const piece of pieces) {
      if (piece.kind === 'text') this.#recordText(code, piece.text);
      else {
        this.#recordEvent({ interval: this.#tick(), code: 'm', data: piece.label });
        this.#requestCheckpoint('marker');
      }
    }
  }

  #recordText(code: 'o' | 'i', text: string): void {
    if (text.length === 0) return;
    let interval = this.#tick();
    for (const part of slices(text, MAX_EVENT_CHARS)) {
      this.#recordEvent({ interval, code, data: part });
      interval = 0;
    }
  }

  #recordEvent(event: CastEvent): void {
    this.#appendLine(serializeEvent(event));
  }

  #appendLine(line: string): void {
    if (this.spool.failure !== undefined) return;
    const bytes = Buffer.from(line + '\n', 'utf8');
    this.#recordedBytes += bytes.length;
    this.#tree.appendLine(bytes.subarray(0, bytes.length - 1));
    this.spool.cast.append(bytes);
  }

  // -- checkpoints -------------------------------------------------------------

  #requestCheckpoint(kind: CheckpointKind): void {
    // A seal outranks everything; otherwise the latest reason is as good as any.
    if (this.#dueKind !== 'seal') this.#dueKind = kind;
    this.#checkpointLoop ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#runCheckpoints());
  }

  async #runCheckpoints(): Promise<void> {
    try {
      while (this.#dueKind !== undefined && this.spool.failure === undefined) {
        const kind = this.#dueKind;
        this.#dueKind = undefined;
        const size = this.#tree.size;
        if (size === this.#checkpointedSize && kind !== 'seal' && kind !== 'open') continue;
        const root = this.#tree.root();
        await this.spool.cast.sync(); // the data first, then the checkpoint that covers it
        const text = formatCheckpoint({ origin: this.meta.origin, size, root, kind, time: Date.now(), prev: this.#prevNoteHash });
        const note = signNote(nodeSuite, text, this.#keyName, this.#sessionKey);
        this.spool.notes.append(Buffer.from(note + '\n', 'utf8'));
        await this.spool.notes.sync();
        this.#prevNoteHash = nodeSuite.sha256(utf8(text)); // the signed text: cosignatures may be added to notes later
        this.#checkpointedSize = size;
        this.#outputSinceCheckpoint = 0;
        this.#deps.emit({ type: 'checkpoint', sessionId: this.id, kind, size, note });
      }
    } catch {
      // A spool failure has already been reported by #failClosed.
    } finally {
      this.#checkpointLoop = undefined;
    }
  }

  /** Resolves when every checkpoint requested so far has been written. */
  async #checkpointsSettled(): Promise<void> {
    while (this.#checkpointLoop !== undefined) await this.#checkpointLoop;
  }

  // -- end of session ----------------------------------------------------------

  async #seal(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#timer);
    const exit = this.#exit ?? { exitCode: 1, signal: null };
    this.#recordPieces('o', this.#deps.redactor.output(this.#decoder.decode()));
    this.#recordPieces('o', this.#deps.redactor.flush());
    // asciicast v3: the exit event carries the status; a signal is reported shell-style (128 + n).
    const status = exit.signal !== null && exit.signal !== 0 ? 128 + exit.signal : exit.exitCode;
    this.#recordEvent({ interval: this.#tick(), code: 'x', data: String(status) });
    this.#requestCheckpoint('seal');
    await this.#checkpointsSettled();
    this.#deps.emit({ type: 'exit', sessionId: this.id, exitCode: exit.exitCode, signal: exit.signal });
    if (this.spool.failure !== undefined) return; // #failClosed reported it
    this.#deps.onEnded(this, { kind: 'sealed', exitStatus: status, endedAt: Date.now() });
  }

  /** The spool refused a write: stop the program now; nothing more may happen unrecorded. */
  #failClosed(error: Error): void {
    const wasEnded = this.#ended;
    this.#ended = true;
    clearInterval(this.#timer);
    try {
      this.#pty?.kill('SIGKILL');
    } catch {
      // already gone
    }
    this.#deps.emit({
      type: 'error',
      sessionId: this.id,
      code: 'spool-write-failed',
      message: `Recording failed, so the session was ended: ${error.message}. What was recorded before the failure is kept and will be recovered.`,
      fatal: true,
    });
    if (!wasEnded) {
      this.#deps.emit({ type: 'exit', sessionId: this.id, exitCode: 1, signal: null });
    }
    this.#deps.onEnded(this, { kind: 'failed', error });
  }

  redactionCounts(): Record<string, number> {
    return this.#deps.redactor.counts();
  }
}

/** A random session id for clients that do not bring their own. */
export function newSessionId(): string {
  return randomBytes(12).toString('base64url');
}
