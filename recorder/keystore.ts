/**
 * Where the device key lives. One small interface: the browser host and tests
 * keep the key in a 0600 file; the Electron build will wrap it with safeStorage.
 */
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { randomBytes } from 'node:crypto';
import { fromBase64, keyIdOf, toBase64, type Ed25519Signer } from '../shared/bundle/index.ts';
import type { RedactionKey } from '../shared/redaction/fingerprint.ts';
import { newSeed, nodeSuite, signerFromSeed } from '../node-adapters/crypto.ts';

export interface DeviceKey extends Ed25519Signer {
  readonly keyId: string;
}

export interface KeyStore {
  /** Loads the device key, creating it on first use. */
  deviceKey(): Promise<DeviceKey>;
  /**
   * The key for redaction fingerprints. It belongs to the org (so that auditors can match a
   * leaked secret across devices) and will come from the central service at enrollment; until
   * then each install makes its own, kept beside the device key.
   */
  redactionKey(): Promise<RedactionKey>;
}

const KeyFileSchema = z.strictObject({
  version: z.literal(1),
  algorithm: z.literal('ed25519'),
  seed: z.string(),
  publicKey: z.string(),
  createdAt: z.string(),
});

function toDeviceKey(signer: Ed25519Signer): DeviceKey {
  return { ...signer, keyId: keyIdOf(nodeSuite, signer.publicKey) };
}

export class FileKeyStore implements KeyStore {
  readonly path: string;
  #cached: Promise<DeviceKey> | undefined;
  #redaction: Promise<RedactionKey> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  deviceKey(): Promise<DeviceKey> {
    this.#cached ??= this.#loadOrCreate();
    return this.#cached;
  }

  redactionKey(): Promise<RedactionKey> {
    this.#redaction ??= this.#loadOrCreateRedactionKey();
    return this.#redaction;
  }

  async #loadOrCreateRedactionKey(): Promise<RedactionKey> {
    const path = join(dirname(this.path), 'redaction-key.json');
    const schema = z.strictObject({ version: z.literal(1), keyId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), key: z.string() });
    const read = async (): Promise<RedactionKey> => {
      const info = await stat(path);
      if ((info.mode & 0o077) !== 0) throw new Error(`redaction key file ${path} is readable by others; run chmod 600 on it`);
      const parsed = schema.parse(JSON.parse(await readFile(path, 'utf8')));
      const key = fromBase64(parsed.key);
      if (key === undefined || key.length < 16) throw new Error(`redaction key file ${path} has a damaged key`);
      return { keyId: parsed.keyId, key };
    };
    try {
      return await read();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const key = new Uint8Array(randomBytes(32));
    // The id names the key without revealing it: a hash of it, as for the signing keys.
    const keyId = `local-${keyIdOf(nodeSuite, key).slice(0, 12)}`;
    const temp = `${path}.${process.pid}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ version: 1, keyId, key: toBase64(key) }) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return await read();
    } finally {
      await unlink(temp);
    }
    return { keyId, key };
  }

  async #loadOrCreate(): Promise<DeviceKey> {
    try {
      return await this.#load();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return this.#create();
  }

  async #load(): Promise<DeviceKey> {
    const info = await stat(this.path);
    if ((info.mode & 0o077) !== 0) {
      throw new Error(
        `device key file ${this.path} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
      );
    }
    const parsed = KeyFileSchema.safeParse(JSON.parse(await readFile(this.path, 'utf8')));
    if (!parsed.success) throw new Error(`device key file ${this.path} is not a Custody key file: ${parsed.error.issues[0]?.message}`);
    const seed = fromBase64(parsed.data.seed);
    if (seed?.length !== 32) throw new Error(`device key file ${this.path} has a damaged seed`);
    const signer = signerFromSeed(seed);
    if (toBase64(signer.publicKey) !== parsed.data.publicKey) {
      throw new Error(`device key file ${this.path} is damaged: its public key does not match its seed`);
    }
    return toDeviceKey(signer);
  }

  /** Written to a temporary 0600 file, fsynced, then linked into place: never a half-written key. */
  async #create(): Promise<DeviceKey> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const seed = newSeed();
    const signer = signerFromSeed(seed);
    const body = JSON.stringify({
      version: 1,
      algorithm: 'ed25519',
      seed: toBase64(seed),
      publicKey: toBase64(signer.publicKey),
      createdAt: new Date().toISOString(),
    });
    const temp = `${this.path}.${process.pid}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(body + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    // link() fails if the file exists: when another process made the key meanwhile, theirs wins.
    try {
      await link(temp, this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return await this.#load();
    } finally {
      await unlink(temp);
    }
    return toDeviceKey(signer);
  }
}
