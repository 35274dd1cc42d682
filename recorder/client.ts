/**
 * The client side of the recorder contract: starts the recorder process and
 * exchanges validated messages with it. Used by the CLI, the browser host and
 * (through a MessagePort) the Electron main process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describeInvalid, RecorderEventSchema, type RecorderCall, type RecorderEvent } from './protocol.ts';

const RECORDER_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface RecorderClientOptions {
  readonly dataDir: string;
  readonly keyFile?: string;
  /**
   * Flow control: by default the client acknowledges each output chunk once its
   * listeners have run. A client that hands output on asynchronously (a terminal
   * on stdout, a renderer's xterm) sets this and calls ack() when it is done.
   */
  readonly manualAck?: boolean;
}

/**
 * Acknowledgements are batched: one message per this many bytes, and the rest
 * after a short delay. The recorder pauses at 4 MiB unacknowledged and resumes
 * at 1 MiB, so a remainder below the batch size can never hold it paused.
 */
const ACK_BATCH_BYTES = 256 * 1024;
const ACK_DELAY_MS = 20;

type Listener = (event: RecorderEvent) => void;

export class RecorderClient {
  readonly #child: ChildProcess;
  readonly #listeners = new Set<Listener>();
  readonly #manualAck: boolean;
  readonly #unsentAcks = new Map<string, number>();
  #ackScheduled = false;
  readonly ready: Promise<Extract<RecorderEvent, { type: 'ready' }>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(child: ChildProcess, manualAck: boolean) {
    this.#child = child;
    this.#manualAck = manualAck;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.ready = new Promise((resolve, reject) => {
      const onEvent = (event: RecorderEvent): void => {
        if (event.type === 'ready') {
          this.#listeners.delete(onEvent);
          resolve(event);
        } else if (event.type === 'error' && event.fatal && event.sessionId === undefined) {
          this.#listeners.delete(onEvent);
          reject(new Error(event.message));
        }
      };
      this.#listeners.add(onEvent);
      void this.exited.then(({ code, signal }) => reject(new Error(`the recorder exited before it was ready (code ${code}, signal ${signal})`)));
    });
    child.on('message', (message) => {
      const parsed = RecorderEventSchema.safeParse(message);
      const event: RecorderEvent = parsed.success
        ? parsed.data
        : { type: 'error', code: 'invalid-call', message: `the recorder sent an invalid message: ${describeInvalid(parsed.error)}`, fatal: false };
      for (const listener of [...this.#listeners]) listener(event);
      if (event.type === 'output' && !this.#manualAck) this.ack(event.sessionId, event.data.length);
    });
  }

  /** Starts a recorder process. Await `ready` before the first call. */
  static start(options: RecorderClientOptions): RecorderClient {
    const args = ['--data-dir', options.dataDir];
    if (options.keyFile !== undefined) args.push('--key-file', options.keyFile);
    const child = fork(RECORDER_MAIN, args, {
      execPath: process.execPath,
      serialization: 'advanced', // output bytes travel as Uint8Array, not JSON
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    return new RecorderClient(child, options.manualAck === true);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  send(call: RecorderCall): void {
    if (this.#child.connected) this.#child.send(call);
  }

  /** Acknowledges `bytes` of a session's display output (see RecorderClientOptions.manualAck). */
  ack(sessionId: string, bytes: number): void {
    const total = (this.#unsentAcks.get(sessionId) ?? 0) + bytes;
    this.#unsentAcks.set(sessionId, total);
    if (total >= ACK_BATCH_BYTES) this.#flushAck(sessionId);
    else if (!this.#ackScheduled) {
      this.#ackScheduled = true;
      setTimeout(() => {
        this.#ackScheduled = false;
        for (const id of [...this.#unsentAcks.keys()]) this.#flushAck(id);
      }, ACK_DELAY_MS).unref();
    }
  }

  #flushAck(sessionId: string): void {
    const bytes = this.#unsentAcks.get(sessionId) ?? 0;
    this.#unsentAcks.delete(sessionId);
    if (bytes > 0) this.send({ type: 'ack', sessionId, bytes });
  }

  /** Resolves with the first event that matches. */
  waitFor<T extends RecorderEvent>(match: (event: RecorderEvent) => event is T): Promise<T>;
  waitFor(match: (event: RecorderEvent) => boolean): Promise<RecorderEvent>;
  waitFor(match: (event: RecorderEvent) => boolean): Promise<RecorderEvent> {
    return new Promise((resolve) => {
      const off = this.on((event) => {
        if (match(event)) {
          off();
          resolve(event);
        }
      });
    });
  }

  /** Disconnects; the recorder seals any open session and exits. */
  async stop(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect();
    await this.exited;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.#child.kill(signal);
  }
}
