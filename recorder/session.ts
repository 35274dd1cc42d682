/**
 * One recorded pty session, as seen from the recorder's main thread.
 *
 *   pty ──▶ display path: `output` event with the raw bytes, at once
 *       └─▶ record path: posted to the session's worker thread (record-path/pipeline.ts)
 *
 * This thread only moves bytes: keystrokes go to the pty first, output goes to
 * the client first, and neither waits for a disk, a hash or a signature. The
 * pty is paused when the client has not acknowledged enough of the display, or
 * when the record path has fallen behind (so memory stays flat), and resumed
 * once both have caught up.
 */
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import * as pty from 'node-pty';
import {
  DEVICE_CERT_ENTRY,
  DEVICE_CERT_PAYLOAD_TYPE,
  DeviceCertSchema,
  equalBytes,
  FORMAT_VERSION,
  fromBase64,
  openEnvelope,
  SESSION_KEY_PAYLOAD_TYPE,
  originForSession,
  serializeEnvelope,
  signEnvelope,
  toBase64,
  utf8,
  type CastHeader,
  type Ed25519Signer,
  type SessionKeyCert,
} from '../shared/bundle/index.ts';
import type { RedactionKey } from '../shared/redaction/fingerprint.ts';
import { policyVersionString } from '../shared/redaction/policy.ts';
import { policyRules } from './redaction.ts';
import { nodeSuite } from '../node-adapters/crypto.ts';
import type { OpenCall, RecorderEvent } from './protocol.ts';
import type { FromRecordWorker, RecordWorkerData } from './record-path/messages.ts';
import { createRing, RingWriter, type RingRecordKind } from './record-path/ring.ts';
import { createSpool, type SpoolMeta } from './spool.ts';
import { holdPtyMaster, holdPtySlave, inputMode } from './termios/index.ts';
import { MasterWriter } from './termios/master-writer.ts';

/** Unacknowledged display bytes before the pty is paused (xterm.js-style watermarks). */
export const DISPLAY_HIGH_WATER = 4 * 1024 * 1024;
export const DISPLAY_LOW_WATER = 1024 * 1024;
/**
 * Output posted to the record path but not yet covered by a signed checkpoint.
 * Bounding it bounds both the worker's memory and how much a crash can leave
 * unsealed: under heavy output a checkpoint's fdatasync takes time, and the
 * program waits rather than running ahead of the signatures.
 */
export const RECORD_HIGH_WATER = 8 * 1024 * 1024;
export const RECORD_LOW_WATER = 2 * 1024 * 1024;
/** The output ring holds at most what is not yet checkpointed, plus room for a few reads. */
const RING_BYTES = 2 * RECORD_HIGH_WATER;
/** node-pty may deliver the last output just after exit; let it land before sealing. */
export const EXIT_GRACE_MS = 20;

const RECORD_WORKER = new URL('./record-path/worker.ts', import.meta.url);

export interface SessionDeps {
  readonly spoolRoot: string;
  readonly deviceKey: Ed25519Signer;
  readonly redactionKey: RedactionKey;
  readonly emit: (event: RecorderEvent) => void;
  /** Called once the session has been sealed (or has failed): pack and clean up. */
  readonly onEnded: (session: RecordedSession, outcome: SessionOutcome) => void;
}

export type SessionOutcome =
  | { readonly kind: 'sealed'; readonly exitStatus: number; readonly endedAt: number; readonly redactionCounts: Record<string, number> }
  | { readonly kind: 'failed'; readonly error: Error };

function sessionKeyName(sessionId: string): string {
  return `custody-session-${sessionId}`;
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/**
 * A device certificate for another key would make every bundle of the session read as tampered
 * (docs/bundle-format.md §7.6): refuse it before anything starts. Its signature is the org's to
 * judge; the recorder does not know the org root.
 */
function checkDeviceCert(bytes: Uint8Array, devicePublicKey: Uint8Array): void {
  const opened = openEnvelope(bytes, DEVICE_CERT_ENTRY, DEVICE_CERT_PAYLOAD_TYPE);
  const cert = DeviceCertSchema.safeParse(opened.body);
  if (!cert.success) throw new Error(`the device certificate is not valid: ${cert.error.issues[0]?.message ?? 'invalid'}`);
  const certified = fromBase64(cert.data.devicePublicKey);
  if (certified === undefined || !equalBytes(certified, devicePublicKey)) throw new Error('the device certificate is for another device key than this recorder\'s');
}

export class RecordedSession {
  readonly id: string;
  readonly meta: SpoolMeta;
  readonly spoolDir: string;
  readonly #deps: SessionDeps;
  readonly #worker: Worker;
  readonly #recordInput: boolean;
  readonly #ring: RingWriter;
  /** Records the ring had no room for; written first once it has (the pty is paused meanwhile). */
  #overflow: { kind: RingRecordKind; data: Uint8Array; at: number }[] = [];
  #pty: pty.IPty | undefined;
  /**
   * Our own duplicate of the pty's master (termios/ `holdPtyMaster`): termios is read and keys
   * are written through it (termios/master-writer.ts), and it is closed after the exit once
   * no write is in flight. Undefined where there is none (Windows): node-pty's write then.
   */
  #master: MasterWriter | undefined;
  /** Our fd of the pty's slave side, so that the program's last output is read (termios/ `holdPtySlave`). */
  #slave: number | undefined;
  #hiddenRun = false;
  #posted = 0;
  #checkpointed = 0;
  #unacked = 0;
  #paused = false;
  #exited = false;
  #endPosted = false;
  #stopped = false;
  #failed = false;
  #sealed = false;
  #exitStatus = 1;
  #exit: { exitCode: number; signal: number | null } | undefined;

  private constructor(call: OpenCall, meta: SpoolMeta, spoolDir: string, worker: Worker, ring: RingWriter, deps: SessionDeps) {
    this.id = call.sessionId;
    this.meta = meta;
    this.spoolDir = spoolDir;
    this.#deps = deps;
    this.#worker = worker;
    this.#ring = ring;
    this.#recordInput = call.redactionPolicy.recordInput;
    worker.on('message', (message: FromRecordWorker) => this.#fromWorker(message));
    worker.on('error', (error) => this.#failClosed(`the record path stopped: ${error.message}`));
  }

  /**
   * Certifies a fresh session key, creates the spool and starts the record
   * path; only then spawns the program. If any of that fails, no program runs
   * (fail closed).
   */
  static async open(call: OpenCall, bundlePath: string, deps: SessionDeps): Promise<RecordedSession> {
    // A policy that does not compile (an org rule that is not RE2, rules this build lacks) would
    // leave the record path without redaction: refuse before anything exists.
    try {
      policyRules(call.redactionPolicy);
    } catch (error) {
      throw new Error(`the redaction policy cannot be used: ${(error as Error).message}`, { cause: error });
    }
    const startedAt = Date.now();
    const origin = originForSession(call.sessionId);
    // The session key lives in this process's memory only: the worker signs with it, nothing stores it.
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const sessionPublicKey = rawPublicKey(publicKey);
    const cert: SessionKeyCert = {
      formatVersion: FORMAT_VERSION,
      sessionId: call.sessionId,
      origin,
      keyName: sessionKeyName(call.sessionId),
      publicKey: toBase64(sessionPublicKey),
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
      policyVersion: policyVersionString(call.redactionPolicy),
      bundlePath,
    };
    if (call.deviceCert !== undefined) checkDeviceCert(call.deviceCert, deps.deviceKey.publicKey);
    const spoolDir = await createSpool(deps.spoolRoot, meta, certBytes, call.deviceCert);
    const term = call.env['TERM'] ?? 'xterm-256color';
    const header: CastHeader = {
      version: 3,
      term: { cols: call.cols, rows: call.rows, type: term },
      timestamp: Math.floor(startedAt / 1000),
      // The manifest keeps the exact argv; the header's display string is kept short.
      command: meta.command.join(' ').slice(0, 4096),
      env: { TERM: term, ...(call.env['SHELL'] === undefined ? {} : { SHELL: call.env['SHELL'] }) },
    };
    const ring = createRing(RING_BYTES);
    const data: RecordWorkerData = {
      ring,
      spoolDir,
      header,
      origin,
      keyName: cert.keyName,
      sessionKey: privateKey,
      sessionPublicKey,
      firstPrev: new Uint8Array(createHash('sha256').update(certBytes).digest()),
      policy: call.redactionPolicy,
      redactionKey: deps.redactionKey,
      knownSecrets: call.knownSecrets,
      startAt: performance.now(),
    };
    const worker = new Worker(RECORD_WORKER, { workerData: data });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromRecordWorker): void => {
        if (message.t === 'ready') done(undefined);
        else if (message.t === 'failed') done(new Error(message.message));
      };
      const onError = (error: Error): void => done(error);
      const done = (error: Error | undefined): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        if (error === undefined) resolve();
        else {
          void worker.terminate();
          reject(error);
        }
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
    const session = new RecordedSession(call, meta, spoolDir, worker, new RingWriter(ring), deps);
    session.#spawn(call, term);
    return session;
  }

  #spawn(call: OpenCall, term: string): void {
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
      const message = `custody: cannot start ${call.command}: ${(error as Error).message}\r\n`;
      this.#record('output', utf8(message), performance.now());
      this.#exit = { exitCode: 127, signal: null };
      this.#end();
      return;
    }
    const held = holdPtyMaster(this.#pty);
    this.#master = held === undefined ? undefined : new MasterWriter(held);
    this.#slave = holdPtySlave(this.#pty);
    this.#pty.onData((data) => this.#onOutput(data as unknown as Buffer));
    this.#pty.onExit(({ exitCode, signal }) => {
      // node-pty reports the exit once its read has ended: the output is all in; let the pty go.
      this.#releaseSlave();
      this.#exit = { exitCode, signal: signal ?? null };
      setTimeout(() => this.#end(), EXIT_GRACE_MS);
    });
  }

  get pid(): number | undefined {
    return this.#pty?.pid;
  }

  /** Hands an event to the record path through the ring, or keeps it (in order) until the ring has room. */
  #record(kind: RingRecordKind, data: Uint8Array, at: number): void {
    if (this.#overflow.length > 0 || !this.#ring.write(kind, data, at)) this.#overflow.push({ kind, data: new Uint8Array(data), at });
  }

  #drainOverflow(): void {
    while (this.#overflow.length > 0) {
      const next = this.#overflow[0]!;
      if (!this.#ring.write(next.kind, next.data, next.at)) return;
      this.#overflow.shift();
    }
  }

  /** After the exit nothing else drives the overflow out: retry until it is in the ring. */
  #drainSoon(): void {
    this.#drainOverflow();
    if (this.#overflow.length > 0 && !this.#failed) setTimeout(() => this.#drainSoon(), 5);
  }

  // -- display path and keystrokes ---------------------------------------------

  #onOutput(data: Buffer): void {
    if (this.#stopped) return; // nothing is shown that is not recorded
    const at = performance.now();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.#hiddenRun = false; // a new prompt (or anything shown) starts a new run of hidden input
    this.#deps.emit({ type: 'output', sessionId: this.id, data: bytes });
    this.#record('output', bytes, at);
    this.#posted += bytes.length;
    this.#unacked += bytes.length;
    this.#updateFlow();
  }

  input(data: string): void {
    if (this.#stopped || this.#exited || this.#pty === undefined) return;
    // Read before the keys go in: whether the program will echo them decides whether they are a
    // secret. ECHO off in line mode is getpass/sudo/read -s/ssh's passphrase prompt (termios/).
    // Raw mode (ssh, readline, vim) or no answer says nothing: the record path judges those keys
    // by the screen and their echo (record-path/raw-input.ts), holding them meanwhile.
    const mode = this.#master === undefined ? 'unknown' : inputMode(this.#master.fd);
    // Echo path first.
    if (this.#master !== undefined) this.#master.write(data);
    else this.#pty.write(data);
    if (!this.#recordInput) return;
    if (mode !== 'hidden') {
      this.#hiddenRun = false;
      this.#record(mode === 'echoed' ? 'input' : 'input-raw', utf8(data), performance.now());
    } else if (!this.#hiddenRun) {
      // One record per run of hidden keys: nothing reveals how many were typed.
      this.#hiddenRun = true;
      this.#record('input-hidden', new Uint8Array(0), performance.now());
    }
  }

  resize(cols: number, rows: number): void {
    if (this.#stopped || this.#exited || this.#pty === undefined) return;
    this.#pty.resize(cols, rows);
    const size = new DataView(new ArrayBuffer(4));
    size.setUint16(0, cols, true);
    size.setUint16(2, rows, true);
    this.#record('resize', new Uint8Array(size.buffer), performance.now());
  }

  /** The client has taken `bytes` more of the display output. */
  ack(bytes: number): void {
    this.#unacked = Math.max(0, this.#unacked - bytes);
    this.#updateFlow();
  }

  close(): void {
    if (this.#exited || this.#stopped) return;
    this.#pty?.kill('SIGHUP');
  }

  #updateFlow(): void {
    const backlog = this.#posted - this.#checkpointed;
    if (!this.#paused && (this.#unacked > DISPLAY_HIGH_WATER || backlog > RECORD_HIGH_WATER || this.#overflow.length > 0)) {
      this.#paused = true;
      this.#pty?.pause();
    } else if (this.#paused && this.#unacked <= DISPLAY_LOW_WATER && backlog <= RECORD_LOW_WATER && this.#overflow.length === 0) {
      this.#paused = false;
      if (!this.#stopped) this.#pty?.resume();
    }
  }

  // -- the record path's answers -------------------------------------------------

  #fromWorker(message: FromRecordWorker): void {
    switch (message.t) {
      case 'checkpoint':
        this.#deps.emit({ type: 'checkpoint', sessionId: this.id, kind: message.kind, size: message.size, note: message.note });
        break;
      case 'progress':
        this.#checkpointed = message.checkpointed;
        this.#drainOverflow();
        this.#updateFlow();
        break;
      case 'limit':
        this.#endAtLimit();
        break;
      case 'failed':
        this.#failClosed(message.message);
        break;
      case 'sealed':
        if (this.#failed) break;
        this.#sealed = true;
        void this.#worker.terminate();
        this.#deps.emit({ type: 'exit', sessionId: this.id, exitCode: this.#exit?.exitCode ?? 1, signal: this.#exit?.signal ?? null });
        this.#deps.onEnded(this, { kind: 'sealed', exitStatus: this.#exitStatus, endedAt: Date.now(), redactionCounts: message.redactionCounts });
        break;
      case 'ready':
        break;
      default:
        message satisfies never;
    }
  }

  /** The program has exited: the record path writes the exit event and seals. */
  #end(): void {
    if (!this.#exited) {
      this.#exited = true;
      // No key is judged or written after this: let the pty go (its fd and /dev/pts numbers
      // with it) once a write in flight has returned.
      void this.#master?.close();
      this.#releaseSlave();
      const exit = this.#exit ?? { exitCode: 1, signal: null };
      // asciicast v3: the exit event carries the status; a signal is reported shell-style (128 + n).
      this.#exitStatus = exit.signal !== null && exit.signal !== 0 ? 128 + exit.signal : exit.exitCode;
    }
    if (this.#endPosted) return;
    this.#endPosted = true;
    const status = new DataView(new ArrayBuffer(4));
    status.setInt32(0, this.#exitStatus, true);
    this.#record('end', new Uint8Array(status.buffer), performance.now());
    this.#drainSoon();
  }

  #releaseSlave(): void {
    if (this.#slave === undefined) return;
    try {
      closeSync(this.#slave);
    } catch {
      // already closed
    }
    this.#slave = undefined;
  }

  #kill(): void {
    try {
      this.#pty?.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  #endAtLimit(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#deps.emit({
      type: 'error',
      sessionId: this.id,
      code: 'recording-limit',
      message: 'The recording reached its size limit, so the session was ended and sealed. Start a new session to go on.',
      fatal: true,
    });
    this.#kill(); // exit follows through onExit, then the seal
  }

  /** The spool refused a write: stop the program now; nothing more may happen unrecorded. */
  #failClosed(reason: string): void {
    if (this.#failed || this.#sealed) return;
    this.#failed = true;
    this.#stopped = true;
    this.#kill();
    void this.#worker.terminate();
    this.#deps.emit({
      type: 'error',
      sessionId: this.id,
      code: 'spool-write-failed',
      message: `Recording failed, so the session was ended: ${reason}. What was recorded before the failure is kept and will be recovered.`,
      fatal: true,
    });
    this.#deps.emit({ type: 'exit', sessionId: this.id, exitCode: 1, signal: null });
    this.#deps.onEnded(this, { kind: 'failed', error: new Error(reason) });
  }
}

/** A random session id for clients that do not bring their own. */
export function newSessionId(): string {
  return randomBytes(12).toString('base64url');
}
