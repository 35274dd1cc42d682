/**
 * The spool: a session's recording on disk while it runs, one folder per
 * session under `<data>/spool/<session id>/`:
 *
 *   meta.json               what the session is (written and fsynced before the pty starts)
 *   owner.pid               the recorder process that owns it (a dead owner means a crash)
 *   session.cast            asciicast v3 lines, appended
 *   checkpoints.notes       signed checkpoints, appended
 *   session-key.dsse.json   the device key's certificate for the session key
 *   device-cert.dsse.json   the org root's certificate for the device key, when the open call gave one
 *
 * Appends are queued and written by one loop, never on the caller's stack;
 * sync() resolves when everything queued so far is on disk (fdatasync). The
 * first write error stops the spool for good: the session must end (fail closed).
 */
import { readFileSync } from 'node:fs';
import { mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

export const SpoolMetaSchema = z.strictObject({
  version: z.literal(1),
  sessionId: z.string(),
  origin: z.string(),
  startedAt: z.number(),
  command: z.array(z.string()),
  cwd: z.string(),
  metadata: z.record(z.string(), z.string()),
  policyVersion: z.string(),
  bundlePath: z.string(),
});
export type SpoolMeta = z.infer<typeof SpoolMetaSchema>;

export const SPOOL_FILES = {
  meta: 'meta.json',
  owner: 'owner.pid',
  cast: 'session.cast',
  notes: 'checkpoints.notes',
  sessionKey: 'session-key.dsse.json',
  deviceCert: 'device-cert.dsse.json',
} as const;

export class SpoolWriteError extends Error {
  override readonly cause: unknown;
  constructor(file: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOSPC'
        ? 'the disk is full'
        : code === 'EROFS'
          ? 'the file system is read-only'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : code === 'EIO'
              ? 'an I/O error'
              : (cause as Error).message;
    super(`cannot write the recording (${file}): ${reason}${code === undefined ? '' : ` [${code}]`}`);
    this.name = 'SpoolWriteError';
    this.cause = cause;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * When a process started, in clock ticks since boot (/proc/PID/stat field 22),
 * or undefined where /proc is absent. With the pid it names one process across
 * pid reuse: a spool whose owner pid now belongs to another program is orphaned.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** owner.pid: "PID START" (START absent where /proc is). */
export function ownerRecord(pid: number): string {
  return `${pid} ${processStartTime(pid) ?? ''}`.trimEnd() + '\n';
}

/** Is the process recorded in owner.pid still the one running under that pid? */
export function ownerAlive(record: string): boolean {
  const [pidText, start] = record.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (start === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === start;
}

/**
 * mkdir -p that reports the real reason: recursive mkdir says ENOENT instead of
 * EROFS on a read-only file system (nodejs/node#47098), so try the plain call first.
 */
export async function makeDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT') throw error;
    await mkdir(path, { recursive: true, mode: 0o700 });
  }
}

/** Writes one small file durably (temp file, fsync, rename, fsync the folder). */
export async function writeFileDurably(path: string, data: string | Uint8Array, dir: string): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await fsyncDir(dir);
}

const encoder = new TextEncoder();
/** Lines are encoded straight into batches of this size, which the writer takes whole. */
const BATCH_BYTES = 1024 * 1024;

/** A piece of a batch queued for the writer; the last piece of a retired batch frees the batch. */
interface QueuedPiece {
  readonly bytes: Buffer;
  batch: Buffer | undefined;
  releasesBatch: boolean;
}

/** Retired batches kept for reuse: a long session cycles through the same few megabytes. */
const FREE_BATCHES = 3;

/**
 * An append-only file of lines. Lines are UTF-8 encoded straight into a batch
 * buffer (no intermediate string or Buffer per line); the filled part of the
 * batch goes to a single writer loop when the batch is full or at the end of
 * the event-loop turn, and the writer hands whole queues to writev. Batches
 * are reused once written, so memory stays flat however long the session.
 * sync() waits only for the bytes appended before it was called, then
 * fdatasyncs.
 */
export class AppendLog {
  readonly #handle: FileHandle;
  readonly #name: string;
  #batch: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  #used = 0;
  /** Bytes of the batch already handed to the writer; the rest of the batch is still filling. */
  #handed = 0;
  readonly #free: Buffer[] = [];
  #flushScheduled = false;
  #queue: QueuedPiece[] = [];
  #appended = 0;
  #written = 0;
  #writing: Promise<void> | undefined;
  #waiters: { target: number; resolve: () => void }[] = [];
  #failure: SpoolWriteError | undefined;
  readonly #onFailure: (error: SpoolWriteError) => void;

  constructor(handle: FileHandle, name: string, onFailure: (error: SpoolWriteError) => void) {
    this.#handle = handle;
    this.#name = name;
    this.#onFailure = onFailure;
  }

  static async open(path: string, onFailure: (error: SpoolWriteError) => void): Promise<AppendLog> {
    try {
      return new AppendLog(await open(path, 'a', 0o600), path, onFailure);
    } catch (error) {
      throw new SpoolWriteError(path, error);
    }
  }

  /** Bytes appended but not yet in the file. */
  get pendingBytes(): number {
    return this.#appended - this.#written;
  }

  get appendedBytes(): number {
    return this.#appended;
  }

  /**
   * Appends `text` and a newline. Returns the line's bytes without the newline,
   * a view into the batch: hash it at once (the batch is reused once written).
   */
  appendLine(text: string): Uint8Array {
    const worst = text.length * 3 + 1; // UTF-16 unit → at most 3 UTF-8 bytes
    if (worst > BATCH_BYTES - this.#used) this.#newBatch();
    if (worst > BATCH_BYTES) {
      const own = Buffer.from(text + '\n', 'utf8');
      this.#enqueue(own, undefined);
      this.#appended += own.length;
      return own.subarray(0, own.length - 1);
    }
    const start = this.#used;
    const { written } = encoder.encodeInto(text, this.#batch.subarray(start));
    this.#batch[start + written] = 0x0a;
    this.#used += written + 1;
    this.#appended += written + 1;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#seal();
      });
    }
    return this.#batch.subarray(start, start + written);
  }

  /** Appends raw bytes (a whole note with its separator). */
  appendBytes(bytes: Uint8Array): void {
    this.#seal();
    this.#enqueue(Buffer.from(bytes), undefined);
    this.#appended += bytes.length;
  }

  #enqueue(bytes: Buffer, batch: Buffer | undefined): void {
    this.#queue.push({ bytes, batch, releasesBatch: false });
    if (this.#failure === undefined) this.#writing ??= this.#drain();
  }

  /** Hands what the batch holds to the writer; later lines keep filling the same batch after it. */
  #seal(): void {
    if (this.#used === this.#handed) return;
    this.#enqueue(this.#batch.subarray(this.#handed, this.#used), this.#batch);
    this.#handed = this.#used;
  }

  /** Seals the batch and continues in a free (or fresh) one; the old one is freed once written. */
  #newBatch(): void {
    this.#seal();
    const old = this.#batch;
    const lastPiece = this.#queue.findLast((piece) => piece.batch === old);
    if (lastPiece !== undefined) lastPiece.releasesBatch = true;
    else this.#release(old); // every piece of it is already in the file
    this.#batch = this.#free.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
    this.#used = 0;
    this.#handed = 0;
  }

  #release(batch: Buffer): void {
    if (this.#free.length < FREE_BATCHES) this.#free.push(batch);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) {
        const pieces = this.#queue;
        this.#queue = [];
        let buffers = pieces.map((piece) => piece.bytes);
        let left = buffers.reduce((sum, b) => sum + b.length, 0);
        while (left > 0) {
          const { bytesWritten } = await this.#handle.writev(buffers);
          left -= bytesWritten;
          this.#written += bytesWritten;
          buffers = skipBytes(buffers, bytesWritten);
        }
        for (const piece of pieces) if (piece.releasesBatch && piece.batch !== undefined) this.#release(piece.batch);
        this.#waiters = this.#waiters.filter((w) => (w.target <= this.#written ? (w.resolve(), false) : true));
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#writing = undefined;
    }
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = new SpoolWriteError(this.#name, error);
    this.#queue = [];
    this.#used = 0;
    this.#handed = 0;
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = [];
    this.#onFailure(this.#failure);
  }

  /** Resolves when everything appended before the call is in the file and fdatasync'ed; rejects after a failure. */
  async sync(): Promise<void> {
    const target = this.#appended;
    this.#seal();
    if (this.#written < target && this.#failure === undefined) {
      await new Promise<void>((resolve) => this.#waiters.push({ target, resolve }));
    }
    if (this.#failure !== undefined) throw this.#failure;
    try {
      await this.#handle.datasync();
    } catch (error) {
      this.#fail(error);
      throw this.#failure!;
    }
  }

  async close(): Promise<void> {
    this.#seal();
    while (this.#writing !== undefined) await this.#writing;
    await this.#handle.close().catch(() => undefined);
  }
}

/** The buffers that remain after the first `count` bytes were written (writev may write less than asked). */
function skipBytes(buffers: readonly Buffer[], count: number): Buffer[] {
  let skip = count;
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) skip -= buffer.length;
    else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
  }
  return rest;
}

/**
 * Creates a session's spool folder and its fixed files. Throws SpoolWriteError
 * when the disk refuses: then no program may start (fail closed).
 */
export async function createSpool(root: string, meta: SpoolMeta, sessionKeyCert: Uint8Array, deviceCert?: Uint8Array): Promise<string> {
  const dir = join(root, meta.sessionId);
  try {
    await makeDirectory(root);
    await mkdir(dir, { mode: 0o700 }); // fails if the id is taken: never two sessions in one spool
    await writeFile(join(dir, SPOOL_FILES.owner), ownerRecord(process.pid), { mode: 0o600 });
    await writeFileDurably(join(dir, SPOOL_FILES.sessionKey), sessionKeyCert, dir);
    // Before meta.json, which marks the spool complete: a recovered spool packs what the session had.
    if (deviceCert !== undefined) await writeFileDurably(join(dir, SPOOL_FILES.deviceCert), deviceCert, dir);
    await writeFileDurably(join(dir, SPOOL_FILES.meta), JSON.stringify(meta) + '\n', dir);
    for (const name of [SPOOL_FILES.cast, SPOOL_FILES.notes]) await (await open(join(dir, name), 'ax', 0o600)).close();
    await fsyncDir(dir);
    return dir;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`session ${meta.sessionId} already has a spool in ${root}`);
    throw new SpoolWriteError(dir, error);
  }
}

/** Removes a spool once its bundle is safely on disk. */
export async function removeSpool(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
