/**
 * A stand-in for the recorder process with the recording taken out, driven by
 * the real RecorderClient (bench/transports.ts) over the same channel (Node
 * IPC, `serialization: 'advanced'`). It does what the recorder's main thread
 * does on the display path and nothing else:
 *
 *   - every call is validated against the recorder protocol (RecorderCallSchema), as recorder/host.ts does;
 *   - each pty read becomes one `output` event at once (recorder/session.ts #onOutput: one IPC message per read);
 *   - `input` goes to the pty; `ack` is honoured with the recorder's display watermarks (the pty is
 *     paused past DISPLAY_HIGH_WATER unacknowledged bytes and resumed at DISPLAY_LOW_WATER);
 *   - `exit` follows the pty's exit after the same 20 ms grace.
 *
 * No worker thread, no copy of the bytes for it, no redaction, hashing, spool,
 * checkpoints or seal. It is the baseline that separates "the pty lives in
 * another process" (which the architecture requires in every configuration:
 * node-pty cannot run in a sandboxed renderer) from what recording adds.
 *
 *   node bench/bypass-host.ts      (started by bench/transports.ts)
 */
import * as pty from 'node-pty';
import { RecorderCallSchema, type OpenCall, type RecorderEvent } from '../recorder/protocol.ts';
import { DISPLAY_HIGH_WATER, DISPLAY_LOW_WATER, EXIT_GRACE_MS } from '../recorder/session.ts';


if (process.send === undefined) {
  process.stderr.write('bench/bypass-host.ts: start me over an IPC channel (bench/transports.ts does this)\n');
  process.exit(2);
}
const send = (event: RecorderEvent): void => {
  if (process.connected) process.send?.(event);
};

class Relay {
  readonly #id: string;
  readonly #term: pty.IPty;
  #unacked = 0;
  #paused = false;

  constructor(call: OpenCall) {
    this.#id = call.sessionId;
    this.#term = pty.spawn(call.command, call.args, {
      name: call.env['TERM'] ?? 'xterm-256color',
      cols: call.cols,
      rows: call.rows,
      cwd: call.cwd,
      env: call.env,
      encoding: null,
    });
    this.#term.onData((data) => this.#onOutput(data as unknown as Buffer));
    this.#term.onExit(({ exitCode, signal }) => {
      setTimeout(() => {
        relays.delete(this.#id);
        send({ type: 'exit', sessionId: this.#id, exitCode, signal: signal ?? null });
      }, EXIT_GRACE_MS);
    });
  }

  #onOutput(data: Buffer): void {
    send({ type: 'output', sessionId: this.#id, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    this.#unacked += data.byteLength;
    this.#updateFlow();
  }

  input(data: string): void {
    this.#term.write(data);
  }

  resize(cols: number, rows: number): void {
    this.#term.resize(cols, rows);
  }

  ack(bytes: number): void {
    this.#unacked = Math.max(0, this.#unacked - bytes);
    this.#updateFlow();
  }

  close(): void {
    this.#term.kill('SIGHUP');
  }

  #updateFlow(): void {
    if (!this.#paused && this.#unacked > DISPLAY_HIGH_WATER) {
      this.#paused = true;
      this.#term.pause();
    } else if (this.#paused && this.#unacked <= DISPLAY_LOW_WATER) {
      this.#paused = false;
      this.#term.resume();
    }
  }
}

const relays = new Map<string, Relay>();

process.on('message', (message: unknown) => {
  const parsed = RecorderCallSchema.safeParse(message);
  if (!parsed.success) {
    send({ type: 'error', code: 'invalid-call', message: 'bench/bypass-host.ts refused a message', fatal: false });
    return;
  }
  const call = parsed.data;
  if (call.type === 'open') {
    relays.set(call.sessionId, new Relay(call));
    return;
  }
  const relay = relays.get(call.sessionId);
  switch (call.type) {
    case 'input':
      relay?.input(call.data);
      break;
    case 'resize':
      relay?.resize(call.cols, call.rows);
      break;
    case 'close':
      relay?.close();
      break;
    case 'ack':
      relay?.ack(call.bytes);
      break;
    default:
      call satisfies never;
  }
});
process.on('disconnect', () => {
  for (const relay of relays.values()) relay.close();
  process.exit(0);
});
send({ type: 'ready', deviceKeyId: 'bench-bypass-host', pid: process.pid });
