/**
 * The spool: a session's recording on disk while it runs, one folder per
 * session under `<data>/spool/<session id>/`:
 *
 *   meta.json               what the session is (written and fsynced before the pty starts)
 *   owner.pid               the recorder process that owns it (a dead owner means a crash)
 *   session.cast            asciicast v3 lines, appended
 *   checkpoints.notes       signed checkpoints, appended
 *   session-key.dsse.json   the device key's certificate for the session key
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

/** An append-only file with a queued writer. */
class AppendLog {
  readonly #handle: FileHandle;
  readonly #name: string;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing: Promise<void> | undefined;
  #failure: SpoolWriteError | undefined;
  readonly #onFailure: (error: SpoolWriteError) => void;

  constructor(handle: FileHandle, name: string, onFailure: (error: SpoolWriteError) => void) {
    this.#handle = handle;
    this.#name = name;
    this.#onFailure = onFailure;
  }

  get pendingBytes(): number {
    return this.#queuedBytes;
  }

  append(bytes: Uint8Array): void {
    if (this.#failure !== undefined) return;
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) {
        const batch = this.#queue.length === 1 ? this.#queue[0]! : Buffer.concat(this.#queue);
        const size = batch.length;
        this.#queue = [];
        let offset = 0;
        while (offset < size) {
          const { bytesWritten } = await this.#handle.write(batch, offset, size - offset);
          offset += bytesWritten;
        }
        this.#queuedBytes -= size;
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
    this.#queuedBytes = 0;
    this.#onFailure(this.#failure);
  }

  /** Resolves when everything appended so far is written and fdatasync'ed; rejects after a failure. */
  async sync(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.#failure !== undefined) throw this.#failure;
    try {
      await this.#handle.datasync();
    } catch (error) {
      this.#fail(error);
      throw this.#failure!;
    }
  }

  async close(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    await this.#handle.close().catch(() => undefined);
  }
}

export class Spool {
  readonly dir: string;
  readonly cast: AppendLog;
  readonly notes: AppendLog;
  #failure: SpoolWriteError | undefined;
  #failureListeners: ((error: SpoolWriteError) => void)[] = [];

  private constructor(dir: string, cast: FileHandle, notes: FileHandle) {
    this.dir = dir;
    const onFailure = (error: SpoolWriteError): void => {
      if (this.#failure !== undefined) return;
      this.#failure = error;
      for (const listener of this.#failureListeners) listener(error);
    };
    this.cast = new AppendLog(cast, join(dir, SPOOL_FILES.cast), onFailure);
    this.notes = new AppendLog(notes, join(dir, SPOOL_FILES.notes), onFailure);
  }

  /** Creates the spool folder and its files. Throws SpoolWriteError when the disk refuses. */
  static async create(root: string, meta: SpoolMeta, sessionKeyCert: Uint8Array): Promise<Spool> {
    const dir = join(root, meta.sessionId);
    try {
      await makeDirectory(root);
      await mkdir(dir, { mode: 0o700 }); // fails if the id is taken: never two sessions in one spool
      await writeFile(join(dir, SPOOL_FILES.owner), ownerRecord(process.pid), { mode: 0o600 });
      await writeFileDurably(join(dir, SPOOL_FILES.sessionKey), sessionKeyCert, dir);
      await writeFileDurably(join(dir, SPOOL_FILES.meta), JSON.stringify(meta) + '\n', dir);
      const cast = await open(join(dir, SPOOL_FILES.cast), 'ax', 0o600);
      const notes = await open(join(dir, SPOOL_FILES.notes), 'ax', 0o600);
      await fsyncDir(dir);
      return new Spool(dir, cast, notes);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`session ${meta.sessionId} already has a spool in ${root}`);
      throw new SpoolWriteError(dir, error);
    }
  }

  get failure(): SpoolWriteError | undefined {
    return this.#failure;
  }

  onFailure(listener: (error: SpoolWriteError) => void): void {
    this.#failureListeners.push(listener);
  }

  get pendingBytes(): number {
    return this.cast.pendingBytes + this.notes.pendingBytes;
  }

  async close(): Promise<void> {
    await this.cast.close();
    await this.notes.close();
  }

  /** Removes the spool once its bundle is safely on disk. */
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
