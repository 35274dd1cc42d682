/**
 * Where tus keeps uploads while they arrive, chosen by the configuration:
 *
 * - a directory (`@tus/file-store` under `<dataDir>/uploads`) with tus's in-process locker: the
 *   embedded defaults, one instance (or a shared volume);
 * - with an S3 blob store, the same bucket under `blobs.uploadPrefix` (`@tus/s3-store`: one
 *   multipart upload per tus upload, its `.info` object and the short tail in `.part`), with the
 *   PostgreSQL advisory-lock locker when the database is PostgreSQL: every instance sees every
 *   upload, so any of them takes its next HEAD or PATCH, and one that starts ingests what another
 *   left complete. The upload URL carries the 32 hex digits; the store's id is prefixed.
 *
 * Once complete, ingest reads the bundle into memory (it verifies in memory; the size is at most
 * `limits.uploadBytes`).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { FileStore } from '@tus/file-store';
import { S3Store } from '@tus/s3-store';
import type { DataStore, KvStore, ServerOptions, Upload } from '@tus/server';
import type { ServiceConfig } from '../config.ts';
import { PostgresUploadLocker } from './upload-locker.ts';

/** An upload not finished within this time is dropped (tus answers 410 from then on); the client starts again. */
export const UPLOAD_EXPIRY_MS = 7 * 86_400_000;
const UPLOAD_ID = /^[0-9a-f]{32}$/;
const MiB = 1024 * 1024;

export interface UploadArea {
  readonly datastore: DataStore;
  /** tus options for ids, URLs and the locker (nothing: tus's defaults). */
  readonly tusOptions: Partial<Pick<ServerOptions, 'namingFunction' | 'generateUrl' | 'getFileIdFromRequest' | 'locker'>>;
  /** Whether tus's `cleanUpExpiredUploads` sweeps this area (with S3 a bucket lifecycle rule does). */
  readonly sweepsExpired: boolean;
  /** The id in the upload's URL (and in the audit log) for the store's id. */
  publicId(id: string): string;
  /** The bytes of a complete upload. */
  readComplete(upload: Upload): Promise<Uint8Array>;
  /** Ids of uploads whose last byte arrived (and perhaps some that did not: check the offset). */
  candidatesForIngest(): Promise<string[]>;
  /**
   * Claims a complete upload for ingest so that no two instances ingest it at once: the release,
   * or undefined when another instance is at it.
   */
  claimForIngest(id: string): Promise<(() => Promise<void>) | undefined>;
  /** Drops an upload, complete or not. */
  remove(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface UploadAreaOptions {
  readonly log: { warn(details: object, message: string): void };
}

export function openUploadArea(config: ServiceConfig, options: UploadAreaOptions): UploadArea {
  const blobs = config.blobs;
  if (blobs.kind === 'directory') return directoryArea(join(config.dataDir, 'uploads'));
  const locker = config.database.kind === 'postgres' ? new PostgresUploadLocker({ url: config.database.url, log: options.log }) : undefined;
  const clientConfig = {
    region: blobs.region,
    forcePathStyle: blobs.forcePathStyle,
    ...(blobs.endpoint === undefined ? {} : { endpoint: blobs.endpoint }),
    // As the blob store: S3-compatible servers often refuse the SDK's default aws-chunked CRC32 bodies.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  } as const;
  const datastore = new S3Store({
    partSize: 8 * MiB,
    expirationPeriodInMilliseconds: UPLOAD_EXPIRY_MS,
    // S3Store caches each upload's .info in memory by default; another instance may have
    // finished or removed the upload since, so every instance reads the bucket.
    cache: noCache,
    s3ClientConfig: { ...clientConfig, bucket: blobs.bucket },
  });
  const client = new S3Client(clientConfig);
  const prefix = blobs.uploadPrefix;
  return {
    datastore,
    tusOptions: {
      namingFunction: () => `${prefix}${randomBytes(16).toString('hex')}`,
      generateUrl: (_req, { path, id }) => `${path}/${id.slice(prefix.length)}`,
      getFileIdFromRequest: (_req, lastSegment) => (lastSegment !== undefined && UPLOAD_ID.test(lastSegment) ? `${prefix}${lastSegment}` : undefined),
      ...(locker === undefined ? {} : { locker }),
    },
    sweepsExpired: false,
    publicId: (id) => (id.startsWith(prefix) ? id.slice(prefix.length) : id),
    async readComplete(upload) {
      const limit = upload.size ?? config.limits.uploadBytes;
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of await datastore.read(upload.id)) {
        total += (chunk as Buffer).length;
        if (total > limit) throw new Error(`upload ${upload.id} holds more than its ${limit} bytes`);
        chunks.push(chunk as Buffer);
      }
      return new Uint8Array(Buffer.concat(chunks, total));
    },
    async candidatesForIngest() {
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: blobs.bucket, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }));
        for (const object of page.Contents ?? []) {
          const id = object.Key?.endsWith('.info') ? object.Key.slice(0, -'.info'.length) : undefined;
          if (id !== undefined && UPLOAD_ID.test(id.slice(prefix.length))) ids.push(id);
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return ids;
    },
    claimForIngest: (id) => (locker === undefined ? Promise.resolve(async () => undefined) : locker.tryHold(`ingest:${id}`)),
    async remove(id) {
      // S3Store.remove aborts the multipart upload first, and of a completed one (S3 answers
      // NoSuchUpload) it deletes nothing: the objects are deleted here whatever it said.
      await datastore.remove(id).catch(() => undefined);
      await client.send(new DeleteObjectsCommand({ Bucket: blobs.bucket, Delete: { Objects: [{ Key: id }, { Key: `${id}.info` }, { Key: `${id}.part` }], Quiet: true } }));
    },
    async close() {
      client.destroy();
      await locker?.close();
    },
  };
}

function directoryArea(directory: string): UploadArea {
  const datastore = new FileStore({ directory, expirationPeriodInMilliseconds: UPLOAD_EXPIRY_MS });
  return {
    datastore,
    tusOptions: {},
    sweepsExpired: true,
    publicId: (id) => id,
    readComplete: async (upload) => readFile(join(directory, upload.id)),
    async candidatesForIngest() {
      let names: string[];
      try {
        names = await readdir(directory);
      } catch {
        return [];
      }
      return names.filter((name) => /^[0-9a-f]{32}\.json$/.test(name)).map((name) => name.slice(0, -'.json'.length));
    },
    // One process owns the directory (tus's locker is per process too).
    claimForIngest: () => Promise.resolve(async () => undefined),
    remove: (id) => datastore.remove(id),
    close: () => Promise.resolve(),
  };
}

/** A KvStore that keeps nothing: each read goes to the bucket. */
const noCache: KvStore<never> = {
  get: () => Promise.resolve(undefined),
  set: () => Promise.resolve(),
  delete: () => Promise.resolve(),
};
