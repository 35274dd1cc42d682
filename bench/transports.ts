/**
 * The three ways a benchmark can run a program in a pty, behind one shape so
 * that baseline and candidate are driven by the same code:
 *
 *   direct    node-pty in this process (no second process at all)
 *   bypass    bench/bypass-host.ts: the pty in a forked child that speaks the
 *             recorder protocol with the recording taken out
 *   recorder  the real recorder (recorder/main.ts): display path + record path
 *
 * bypass and recorder are both driven by the real RecorderClient (event
 * validation, automatic acknowledgement of output, batched as the client
 * batches it) and by the same session code below, so the only difference
 * between them is what the process at the other end does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as pty from 'node-pty';
import { newSessionId, RecorderClient, type RecorderEvent } from '../recorder/index.ts';
import { ptyEnv } from './corpus.ts';
import { DEFAULT_POLICY } from '../shared/redaction/policy.ts';

export interface CommandSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cols?: number;
  readonly rows?: number;
}

export interface Sealed {
  readonly bundlePath: string;
  readonly sha256: string;
  /** performance.now() when the `sealed` event arrived. */
  readonly at: number;
}

export interface PtySession {
  /** Called for every chunk of output, as soon as it arrives in this process. */
  onOutput(listener: (data: Uint8Array) => void): void;
  write(data: string): void;
  /** Ends the program (SIGHUP), as closing a terminal tab does. */
  close(): void;
  /** Resolves with performance.now() when the session has ended (the `exit` event, or node-pty's onExit). */
  readonly exited: Promise<number>;
  /** The recorder only: resolves when the bundle is packed. */
  readonly sealed?: Promise<Sealed>;
}

export interface Transport {
  readonly kind: 'direct' | 'bypass' | 'recorder';
  /** The process that owns the pty (this one for `direct`). */
  readonly pid: number;
  open(spec: CommandSpec): PtySession;
  stop(): Promise<void>;
}

const COLS = 120;
const ROWS = 40;

// -- direct ----------------------------------------------------------------------------------

export function directTransport(): Transport {
  return {
    kind: 'direct',
    pid: process.pid,
    open(spec) {
      const term = pty.spawn(spec.command, [...spec.args], {
        name: 'xterm-256color',
        cols: spec.cols ?? COLS,
        rows: spec.rows ?? ROWS,
        cwd: process.cwd(),
        env: ptyEnv(),
        encoding: null,
      });
      let listener: (data: Uint8Array) => void = () => undefined;
      term.onData((data) => listener(data as unknown as Buffer));
      const exited = new Promise<number>((resolve) => term.onExit(() => resolve(performance.now())));
      return {
        onOutput: (l) => (listener = l),
        write: (data) => term.write(data),
        close: () => term.kill('SIGHUP'),
        exited,
      };
    },
    stop: () => Promise.resolve(),
  };
}

// -- bypass and recorder: one RecorderClient each ----------------------------------------------

/** A promise with its resolve and reject at hand (Promise.withResolvers is ES2024; the project targets ES2023). */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface ClientSessionOptions {
  /** The recorder writes a bundle here and sends `sealed`; the bypass host does neither. */
  readonly bundleDir?: string;
  readonly recordInput: boolean;
}

/** One session through a RecorderClient: the same `open` call, listeners and acknowledgements for bypass and recorder. */
function clientSession(client: RecorderClient, spec: CommandSpec, options: ClientSessionOptions): PtySession {
  const sessionId = newSessionId();
  const records = options.bundleDir !== undefined;
  let output: (data: Uint8Array) => void = () => undefined;
  const exit = deferred<number>();
  const seal = deferred<Sealed>();
  seal.promise.catch(() => undefined); // a caller that only awaits `exited` sees a failure there
  const fail = (error: Error): void => {
    exit.reject(error);
    seal.reject(error);
  };
  const off = client.on((event: RecorderEvent) => {
    if (!('sessionId' in event) || event.sessionId !== sessionId) return;
    switch (event.type) {
      case 'output':
        output(event.data);
        break;
      case 'exit':
        exit.resolve(performance.now());
        if (!records) off();
        break;
      case 'sealed':
        off();
        seal.resolve({ bundlePath: event.bundlePath, sha256: event.sha256, at: performance.now() });
        break;
      case 'error':
        if (event.fatal) {
          off();
          fail(new Error(`${records ? 'recorder' : 'bypass host'}: ${event.code}: ${event.message}`));
        }
        break;
      default:
        break;
    }
  });
  client.send({
    type: 'open',
    sessionId,
    command: spec.command,
    args: [...spec.args],
    cwd: process.cwd(),
    env: ptyEnv(),
    cols: spec.cols ?? COLS,
    rows: spec.rows ?? ROWS,
    metadata: { purpose: 'benchmark' },
    knownSecrets: [],
    redactionPolicy: { ...DEFAULT_POLICY, version: 'bench', recordInput: options.recordInput },
    ...(options.bundleDir === undefined ? {} : { bundlePath: join(options.bundleDir, `${sessionId}.custody`) }),
  });
  return {
    onOutput: (l) => (output = l),
    write: (data) => client.send({ type: 'input', sessionId, data }),
    close: () => client.send({ type: 'close', sessionId }),
    exited: exit.promise,
    ...(records ? { sealed: seal.promise } : {}),
  };
}

const BYPASS_MAIN = fileURLToPath(new URL('./bypass-host.ts', import.meta.url));

/**
 * Forks bench/bypass-host.ts exactly as RecorderClient.start forks the recorder, and wraps the
 * child in a real RecorderClient. Its constructor is private (clients start the recorder, never
 * another program), so it is called through Reflect.construct: the benchmark must not carry a copy
 * of the client's validation and acknowledgement code, or the two transports would drift apart.
 */
export async function bypassTransport(): Promise<Transport & { readonly client: RecorderClient }> {
  if (RecorderClient.length !== 2) throw new Error('RecorderClient\'s constructor is no longer (child, manualAck): update bench/transports.ts bypassTransport');
  const child: ChildProcess = fork(BYPASS_MAIN, [], {
    execPath: process.execPath,
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const manualAck = false; // RecorderClient's default, as in recorderTransport
  const client = Reflect.construct(RecorderClient, [child, manualAck]) as RecorderClient;
  const ready = await client.ready;
  return {
    kind: 'bypass',
    pid: ready.pid,
    client,
    open: (spec) => clientSession(client, spec, { recordInput: false }),
    stop: () => client.stop(),
  };
}

/**
 * Starts a recorder whose data (device key, spool, bundles) lives under `dataDir`.
 * `recordInput: false` opens sessions under a policy that never stores keystrokes
 * (so no input events and no per-key checkpoints).
 */
export async function recorderTransport(dataDir: string, options: { recordInput?: boolean } = {}): Promise<Transport & { readonly client: RecorderClient }> {
  const recordInput = options.recordInput ?? true;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const client = RecorderClient.start({ dataDir, keyFile: join(dataDir, 'device-key.json') });
  const ready = await client.ready;
  return {
    kind: 'recorder',
    pid: ready.pid,
    client,
    open: (spec) => clientSession(client, spec, { bundleDir: dataDir, recordInput }),
    stop: () => client.stop(),
  };
}
