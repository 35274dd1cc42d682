/**
 * The output ring: pty output crosses from the recorder's main thread to a
 * session's record-path worker through shared memory, not one message per pty
 * read. A message per 4 KiB read costs more than the bytes it carries, on both
 * sides; here the main thread copies the bytes in and bumps a counter, and the
 * worker takes everything that has accumulated in one go.
 *
 * Keystrokes, resizes and the program's exit travel the same ring, so the worker
 * sees every event in the order the main thread saw it.
 *
 * Layout: a SharedArrayBuffer of `capacity` data bytes holding records
 *   length (u32 LE) ‖ arrival time (f64 LE, performance.now() of the main thread) ‖ kind (u8) ‖ bytes
 * written at increasing positions modulo `capacity`, plus a control block with
 * the total bytes written and read (BigInt64, so sessions beyond 4 GiB count
 * right) and a signal word the worker waits on (Atomics.waitAsync).
 */

const RECORD_HEADER = 13;
const WRITTEN = 0;
const READ = 1;

/**
 * What a record holds: output bytes, keystrokes (UTF-8) typed while the local
 * pty echoed (`input`) or was raw or of unknown mode (`input-raw`: the program
 * decides what to show, so the worker judges them by their echo), the start of
 * hidden input (no bytes: the keys themselves never enter the ring), a resize
 * (u16 cols, u16 rows) or the exit (i32 status).
 */
export type RingRecordKind = 'output' | 'input' | 'input-raw' | 'input-hidden' | 'resize' | 'end';
const KIND_CODES: Record<RingRecordKind, number> = { output: 0, input: 1, 'input-hidden': 2, resize: 3, end: 4, 'input-raw': 5 };
const KINDS: readonly RingRecordKind[] = ['output', 'input', 'input-hidden', 'resize', 'end', 'input-raw'];

export interface RingBuffers {
  readonly data: SharedArrayBuffer;
  readonly positions: SharedArrayBuffer;
  readonly signal: SharedArrayBuffer;
}

export function createRing(capacity: number): RingBuffers {
  return {
    data: new SharedArrayBuffer(capacity),
    positions: new SharedArrayBuffer(16),
    signal: new SharedArrayBuffer(4),
  };
}

class RingView {
  protected readonly bytes: Uint8Array;
  protected readonly positions: BigInt64Array;
  protected readonly signal: Int32Array;
  protected readonly capacity: number;
  readonly #scratch = new DataView(new ArrayBuffer(RECORD_HEADER));

  constructor(buffers: RingBuffers) {
    this.bytes = new Uint8Array(buffers.data);
    this.positions = new BigInt64Array(buffers.positions);
    this.signal = new Int32Array(buffers.signal);
    this.capacity = this.bytes.length;
  }

  /** Total bytes written so far: a position in the stream of records. */
  get written(): bigint {
    return Atomics.load(this.positions, WRITTEN);
  }

  protected copyIn(at: bigint, source: Uint8Array): void {
    const start = Number(at % BigInt(this.capacity));
    const first = Math.min(source.length, this.capacity - start);
    this.bytes.set(source.subarray(0, first), start);
    if (first < source.length) this.bytes.set(source.subarray(first), 0);
  }

  protected copyOut(at: bigint, target: Uint8Array): void {
    const start = Number(at % BigInt(this.capacity));
    const first = Math.min(target.length, this.capacity - start);
    target.set(this.bytes.subarray(start, start + first));
    if (first < target.length) target.set(this.bytes.subarray(0, target.length - first), first);
  }

  protected header(length: number, at: number, kind: RingRecordKind): Uint8Array {
    this.#scratch.setUint32(0, length, true);
    this.#scratch.setFloat64(4, at, true);
    this.#scratch.setUint8(12, KIND_CODES[kind]);
    return new Uint8Array(this.#scratch.buffer);
  }

  protected readHeader(at: bigint): { length: number; time: number; kind: RingRecordKind } {
    const raw = new Uint8Array(this.#scratch.buffer);
    this.copyOut(at, raw);
    const kind = KINDS[this.#scratch.getUint8(12)];
    if (kind === undefined) throw new Error('output ring: unknown record kind (memory corrupted?)');
    return { length: this.#scratch.getUint32(0, true), time: this.#scratch.getFloat64(4, true), kind };
  }
}

/** The main thread's end: writes records. */
export class RingWriter extends RingView {
  /** Appends one record; false when the ring has no room (the caller keeps it and pauses the pty). */
  write(kind: RingRecordKind, chunk: Uint8Array, at: number): boolean {
    const written = Atomics.load(this.positions, WRITTEN);
    const used = Number(written - Atomics.load(this.positions, READ));
    if (RECORD_HEADER + chunk.length > this.capacity - used) return false;
    this.copyIn(written, this.header(chunk.length, at, kind));
    this.copyIn(written + BigInt(RECORD_HEADER), chunk);
    Atomics.store(this.positions, WRITTEN, written + BigInt(RECORD_HEADER + chunk.length));
    Atomics.add(this.signal, 0, 1);
    Atomics.notify(this.signal, 0);
    return true;
  }
}

export interface RingRecord {
  readonly kind: RingRecordKind;
  readonly data: Uint8Array;
  readonly at: number;
}

/** The worker's end: takes records in order. */
export class RingReader extends RingView {
  /** Takes every record written so far. */
  take(): RingRecord[] {
    const until = this.written;
    const records: RingRecord[] = [];
    let read = Atomics.load(this.positions, READ);
    while (read < until) {
      const { length, time, kind } = this.readHeader(read);
      const data = new Uint8Array(length);
      this.copyOut(read + BigInt(RECORD_HEADER), data);
      records.push({ kind, data, at: time });
      read += BigInt(RECORD_HEADER + length);
    }
    Atomics.store(this.positions, READ, read);
    return records;
  }

  /** Resolves when something new may have been written since `seen` (the signal's value), or after `timeoutMs`. */
  async changed(seen: number, timeoutMs?: number): Promise<void> {
    const wait = Atomics.waitAsync(this.signal, 0, seen, timeoutMs);
    if (wait.async) await wait.value;
  }

  get signalValue(): number {
    return Atomics.load(this.signal, 0);
  }
}
