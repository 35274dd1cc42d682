/**
 * The recorder's message loop, independent of the transport: validates each
 * call against the protocol, drives the sessions, packs sealed spools into
 * bundles, and recovers spools left by a crash when it starts.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyStore } from './keystore.ts';
import { packSpool, scanCast } from './pack.ts';
import { describeInvalid, RecorderCallSchema, type OpenCall, type RecorderEvent } from './protocol.ts';
import { findOrphanedSpools, recoverSpool } from './recovery.ts';
import { RecordedSession, type SessionOutcome } from './session.ts';
import { makeDirectory, removeSpool, SPOOL_FILES } from './spool.ts';

export interface RecorderHostOptions {
  /** `<dataDir>/spool` holds running sessions, `<dataDir>/bundles` finished ones. */
  readonly dataDir: string;
  readonly keyStore: KeyStore;
  readonly emit: (event: RecorderEvent) => void;
}

export class RecorderHost {
  readonly #options: RecorderHostOptions;
  readonly #sessions = new Map<string, RecordedSession>();
  readonly #opening = new Map<string, Promise<void>>();
  readonly #spoolRoot: string;
  readonly #bundleDir: string;

  constructor(options: RecorderHostOptions) {
    this.#options = options;
    this.#spoolRoot = join(options.dataDir, 'spool');
    this.#bundleDir = join(options.dataDir, 'bundles');
  }

  /** Loads the device key, recovers orphaned spools, then reports `ready`. */
  async start(pid: number): Promise<void> {
    const deviceKey = await this.#options.keyStore.deviceKey();
    await makeDirectory(this.#bundleDir);
    for (const dir of await findOrphanedSpools(this.#spoolRoot)) await this.#recover(dir);
    this.#options.emit({ type: 'ready', deviceKeyId: deviceKey.keyId, pid });
  }

  async #recover(dir: string): Promise<void> {
    const deviceKey = await this.#options.keyStore.deviceKey();
    try {
      await stat(join(dir, SPOOL_FILES.meta));
    } catch {
      // The recorder died while creating this spool, before any program ran: nothing was recorded.
      await rm(dir, { recursive: true, force: true });
      return;
    }
    try {
      const recovered = await recoverSpool(dir, deviceKey, 'the recorder stopped before the session was sealed');
      this.#options.emit({ type: 'sealed', sessionId: recovered.sessionId, bundlePath: recovered.bundlePath, recovered: recovered.recovered, sha256: recovered.sha256 });
      await rm(dir, { recursive: true, force: true });
    } catch (error) {
      // Keep the spool: a later start may succeed (e.g. once the disk has room again).
      this.#options.emit({
        type: 'error',
        code: 'recovery-failed',
        message: `could not recover the recording in ${dir}: ${(error as Error).message}; it is kept and will be retried`,
        fatal: false,
      });
    }
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Handles one message from the client. Never throws: problems become `error` events. */
  async handle(message: unknown): Promise<void> {
    const parsed = RecorderCallSchema.safeParse(message);
    if (!parsed.success) {
      const sessionId = (message as { sessionId?: unknown } | null)?.sessionId;
      this.#options.emit({
        type: 'error',
        ...(typeof sessionId === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(sessionId) ? { sessionId } : {}),
        code: 'invalid-call',
        message: `the recorder refused a message: ${describeInvalid(parsed.error)}`,
        fatal: false,
      });
      return;
    }
    const call = parsed.data;
    if (call.type === 'open') {
      if (this.#opening.has(call.sessionId) || this.#sessions.has(call.sessionId)) {
        this.#options.emit({ type: 'error', sessionId: call.sessionId, code: 'open-failed', message: `session ${call.sessionId} is already running`, fatal: false });
        return;
      }
      const opening = this.#open(call).finally(() => this.#opening.delete(call.sessionId));
      this.#opening.set(call.sessionId, opening);
      await opening;
      return;
    }
    // Calls that arrive while their session is still opening (typed ahead, piped) wait for it, in order.
    const opening = this.#opening.get(call.sessionId);
    if (opening !== undefined) await opening;
    const session = this.#sessions.get(call.sessionId);
    if (session === undefined && call.type === 'ack') return; // acknowledgements race the end of a session: harmless
    if (session === undefined) {
      this.#options.emit({ type: 'error', sessionId: call.sessionId, code: 'unknown-session', message: `no running session ${call.sessionId}`, fatal: false });
      return;
    }
    switch (call.type) {
      case 'input':
        session.input(call.data);
        break;
      case 'resize':
        session.resize(call.cols, call.rows);
        break;
      case 'close':
        session.close();
        break;
      case 'ack':
        session.ack(call.bytes);
        break;
      default:
        call satisfies never;
    }
  }

  async #open(call: OpenCall): Promise<void> {
    const deviceKey = await this.#options.keyStore.deviceKey();
    try {
      const session = await RecordedSession.open(call, call.bundlePath ?? join(this.#bundleDir, `${call.sessionId}.custody`), {
        spoolRoot: this.#spoolRoot,
        deviceKey,
        redactionKey: await this.#options.keyStore.redactionKey(),
        emit: this.#options.emit,
        onEnded: (s, outcome) => void this.#ended(s, outcome),
      });
      this.#sessions.set(call.sessionId, session);
    } catch (error) {
      // Fail closed: without a spool, the program is never started.
      this.#options.emit({
        type: 'error',
        sessionId: call.sessionId,
        code: 'open-failed',
        message: `the session was not started because it could not be recorded: ${(error as Error).message}`,
        fatal: true,
      });
    }
  }

  async #ended(session: RecordedSession, outcome: SessionOutcome): Promise<void> {
    try {
      await this.#pack(session, outcome);
    } finally {
      // Only now: a recorder shutting down waits for this table to empty.
      this.#sessions.delete(session.id);
    }
  }

  async #pack(session: RecordedSession, outcome: SessionOutcome): Promise<void> {
    if (outcome.kind === 'failed') return; // the spool stays for recovery
    try {
      const deviceKey = await this.#options.keyStore.deviceKey();
      const scan = await scanCast(join(session.spoolDir, SPOOL_FILES.cast));
      const sha256 = await packSpool({
        spoolDir: session.spoolDir,
        meta: session.meta,
        deviceKey,
        scan,
        sealed: true,
        endedAt: outcome.endedAt,
        exitStatus: outcome.exitStatus,
        recovered: null,
        redactionCounts: outcome.redactionCounts,
      });
      await removeSpool(session.spoolDir);
      this.#options.emit({ type: 'sealed', sessionId: session.id, bundlePath: session.meta.bundlePath, recovered: false, sha256 });
    } catch (error) {
      this.#options.emit({
        type: 'error',
        sessionId: session.id,
        code: 'seal-failed',
        message: `the session ended but its bundle could not be written: ${(error as Error).message}; the recording is kept in ${session.spoolDir} and will be recovered`,
        fatal: true,
      });
    }
  }

  /** Ends every session (recorder shutting down). */
  closeAll(): void {
    for (const session of this.#sessions.values()) session.close();
  }
}
