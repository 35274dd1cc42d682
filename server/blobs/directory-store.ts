/**
 * The embedded blob store: a local directory.
 *
 *   <root>/objects/<key>          the bytes, mode 0444
 *   <root>/retention/<key>.json   size, sha256, retention and legal hold (the sidecar)
 *
 * Write-once: the bytes go to a temp file in the object's own directory, are fsynced and hashed,
 * then link()ed to the key's name. link() never replaces an existing name (it fails with EEXIST),
 * so an overwrite is refused by the file system itself, also against a second process or
 * instance sharing the directory; rename() would silently replace.
 *
 * Why a sidecar file rather than a table: the store stays one self-contained directory (a backup
 * or a move of it carries each object's retention with it), it needs no database of its own, and
 * it has the same shape as the S3 store, where retention also lives with the object. The sidecar
 * is in its own tree so that no key can name another key's sidecar.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import {
  BlobDigestError,
  BlobNotFoundError,
  checkBlobKey,
  ObjectExistsError,
  refuseShortening,
  refuseUnlessExpired,
  SHA256_HEX,
  type BlobInfo,
  type BlobStore,
  type PutOptions,
} from './blob-store.ts';

const SidecarSchema = z.strictObject({
  version: z.literal(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(SHA256_HEX),
  retainUntil: z.number().int().nullable(),
  legalHold: z.boolean(),
  contentType: z.string().optional(),
});
type Sidecar = z.infer<typeof SidecarSchema>;

const COPY_CHUNK = 1024 * 1024;

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

export class DirectoryBlobStore implements BlobStore {
  readonly kind = 'directory' as const;
  readonly root: string;
  /** Read-modify-write of one key's sidecar, one at a time within this process. */
  readonly #sidecarTurns = new Map<string, Promise<unknown>>();

  constructor(root: string) {
    this.root = root;
  }

  #objectPath(key: string): string {
    checkBlobKey(key);
    return join(this.root, 'objects', key);
  }

  #sidecarPath(key: string): string {
    checkBlobKey(key);
    return join(this.root, 'retention', `${key}.json`);
  }

  async put(key: string, source: Uint8Array | { readonly file: string }, options: PutOptions): Promise<BlobInfo> {
    const target = this.#objectPath(key);
    if (!SHA256_HEX.test(options.sha256)) throw new Error(`${key}: sha256 must be 64 lowercase hex digits`);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // A dot name the key grammar allows but our keys never use, in the same directory (same file system, so link() works).
    const temp = join(dir, `.${randomBytes(12).toString('hex')}.partial`);
    const hash = createHash('sha256');
    let size = 0;
    const handle = await open(temp, 'wx', 0o600);
    try {
      try {
        if (source instanceof Uint8Array) {
          hash.update(source);
          size = source.length;
          await handle.writeFile(source);
        } else {
          const input = await open(source.file, 'r');
          try {
            const buffer = Buffer.allocUnsafe(COPY_CHUNK);
            for (;;) {
              const { bytesRead } = await input.read(buffer, 0, COPY_CHUNK, null);
              if (bytesRead === 0) break;
              const chunk = buffer.subarray(0, bytesRead);
              hash.update(chunk);
              await handle.write(chunk, 0, bytesRead);
              size += bytesRead;
            }
          } finally {
            await input.close();
          }
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      // The hash is of what we wrote; read it back so that a disk that returned other bytes is caught too.
      const written = await hashFile(temp);
      if (written !== hash.digest('hex') || written !== options.sha256) throw new BlobDigestError(key, options.sha256, written);
      await chmod(temp, 0o444);
      try {
        await link(temp, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(key);
        throw error;
      }
    } finally {
      await unlink(temp).catch(() => undefined);
    }
    await fsyncDirectory(dir);
    const sidecar: Sidecar = {
      version: 1,
      size,
      sha256: options.sha256,
      retainUntil: options.retainUntil ?? null,
      legalHold: false,
      ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
    };
    await this.#writeSidecar(key, sidecar);
    return infoOf(key, sidecar);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.#objectPath(key)));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async open(key: string): Promise<NodeJS.ReadableStream | undefined> {
    let handle;
    try {
      handle = await open(this.#objectPath(key), 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    return handle.createReadStream();
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    const object = this.#objectPath(key);
    try {
      await stat(object);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    return infoOf(key, await this.#readSidecar(key, object));
  }

  async retain(key: string, until: number): Promise<void> {
    return this.#changeSidecar(key, (sidecar) => {
      refuseShortening(key, sidecar.retainUntil ?? undefined, until);
      return { ...sidecar, retainUntil: until };
    });
  }

  async setLegalHold(key: string, on: boolean): Promise<void> {
    return this.#changeSidecar(key, (sidecar) => ({ ...sidecar, legalHold: on }));
  }

  async deleteExpired(key: string, now: number): Promise<void> {
    const object = this.#objectPath(key);
    await this.#turn(key, async () => {
      const sidecar = await this.#readSidecar(key, object);
      refuseUnlessExpired(key, infoOf(key, sidecar), now);
      await unlink(object);
      await unlink(this.#sidecarPath(key)).catch((error: unknown) => {
        if (!isMissing(error)) throw error;
      });
      await fsyncDirectory(dirname(object));
    });
  }

  /** The key's sidecar; if a crash came between the link and the sidecar, one made from the bytes (held: retention unknown). */
  async #readSidecar(key: string, object = this.#objectPath(key)): Promise<Sidecar> {
    let text: string;
    try {
      text = await readFile(this.#sidecarPath(key), 'utf8');
    } catch (error) {
      if (!isMissing(error)) throw error;
      let sha256: string;
      try {
        sha256 = await hashFile(object);
      } catch (missing) {
        if (isMissing(missing)) throw new BlobNotFoundError(key);
        throw missing;
      }
      // Its retention was never recorded: hold it until someone decides, rather than let it be deleted.
      return { version: 1, size: (await stat(object)).size, sha256, retainUntil: null, legalHold: true };
    }
    const parsed = SidecarSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.#sidecarPath(key)} is not a retention record: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }

  async #writeSidecar(key: string, sidecar: Sidecar): Promise<void> {
    const path = this.#sidecarPath(key);
    const dir = dirname(path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.${randomBytes(12).toString('hex')}.partial`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(sidecar) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The sidecar is the one mutable file: it is replaced whole, atomically.
    await rename(temp, path);
    await fsyncDirectory(dir);
  }

  #changeSidecar(key: string, change: (sidecar: Sidecar) => Sidecar): Promise<void> {
    const object = this.#objectPath(key);
    return this.#turn(key, async () => {
      try {
        await stat(object);
      } catch (error) {
        if (isMissing(error)) throw new BlobNotFoundError(key);
        throw error;
      }
      await this.#writeSidecar(key, change(await this.#readSidecar(key, object)));
    });
  }

  #turn<T>(key: string, body: () => Promise<T>): Promise<T> {
    const previous = this.#sidecarTurns.get(key) ?? Promise.resolve();
    const next = previous.then(body, body);
    const settled = next.catch(() => undefined);
    this.#sidecarTurns.set(key, settled);
    void settled.then(() => {
      if (this.#sidecarTurns.get(key) === settled) this.#sidecarTurns.delete(key);
    });
    return next;
  }
}

function infoOf(key: string, sidecar: Sidecar): BlobInfo {
  return { key, size: sidecar.size, sha256: sidecar.sha256, retainUntil: sidecar.retainUntil ?? undefined, legalHold: sidecar.legalHold };
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
