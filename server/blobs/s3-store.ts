/**
 * The blob store at scale: an S3-compatible bucket (@aws-sdk/client-s3).
 *
 * - Write-once: every put is conditional (`If-None-Match: *`, S3 conditional writes), so the
 *   bucket itself refuses to replace a key, whichever instance asks; S3 answers 412, which is
 *   ObjectExistsError. Large files go up in parts, and the same condition is on the completion.
 * - Integrity: the bytes are hashed here first (a wrong `options.sha256` stores nothing), and
 *   each request carries its x-amz-checksum-sha256, so S3 refuses bytes damaged on the way.
 * - Retention, with Object Lock (`objectLock` GOVERNANCE or COMPLIANCE; the bucket must have
 *   Object Lock on): the retain-until date goes on the put, `retain` is PutObjectRetention, the
 *   legal hold is PutObjectLegalHold, and the bucket refuses to delete a locked version whatever
 *   this code does. Without Object Lock (`objectLock: 'none'`), retention and hold are object
 *   tags and only this service honours them: anyone with the bucket's credentials can delete.
 */
import { createHash } from 'node:crypto';
import { open as openFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  S3ServiceException,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3';
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

const MiB = 1024 * 1024;
/** S3's smallest part (all but the last). */
export const MIN_PART_BYTES = 5 * MiB;

export interface S3BlobStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly objectLock: 'none' | 'GOVERNANCE' | 'COMPLIANCE';
  /** Objects larger than this go up in parts of `partBytes`. */
  readonly multipartThreshold?: number;
  readonly partBytes?: number;
}

const TAG_RETAIN = 'custody-retain-until';
const TAG_HOLD = 'custody-legal-hold';
const META_SHA256 = 'sha256';

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404 || (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound'));
}

/** 412: the key exists; 409: a put of the same key is in flight (S3 ConditionalRequestConflict). */
function isExists(error: unknown): boolean {
  return statusOf(error) === 412 || (error instanceof S3ServiceException && error.name === 'ConditionalRequestConflict');
}

export class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #lock: 'none' | 'GOVERNANCE' | 'COMPLIANCE';
  readonly #threshold: number;
  readonly #partBytes: number;

  constructor(options: S3BlobStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#lock = options.objectLock;
    this.#partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? 16 * MiB);
    this.#threshold = Math.max(this.#partBytes, options.multipartThreshold ?? 64 * MiB);
  }

  get objectLock(): 'none' | 'GOVERNANCE' | 'COMPLIANCE' {
    return this.#lock;
  }

  async put(key: string, source: Uint8Array | { readonly file: string }, options: PutOptions): Promise<BlobInfo> {
    checkBlobKey(key);
    if (!SHA256_HEX.test(options.sha256)) throw new Error(`${key}: sha256 must be 64 lowercase hex digits`);
    const { sha256, size } = source instanceof Uint8Array ? { sha256: createHash('sha256').update(source).digest('hex'), size: source.length } : await hashFile(source.file);
    if (sha256 !== options.sha256) throw new BlobDigestError(key, options.sha256, sha256);
    const common = {
      Bucket: this.#bucket,
      Key: key,
      Metadata: { [META_SHA256]: sha256 },
      ...(options.contentType === undefined ? {} : { ContentType: options.contentType }),
      ...(options.retainUntil === undefined
        ? {}
        : this.#lock === 'none'
          ? { Tagging: `${TAG_RETAIN}=${options.retainUntil}` }
          : { ObjectLockMode: this.#lock, ObjectLockRetainUntilDate: new Date(options.retainUntil) }),
    };
    try {
      if (size <= this.#threshold) {
        const body = source instanceof Uint8Array ? source : await readWhole(source.file, size);
        const checksum = Buffer.from(sha256, 'hex').toString('base64');
        const sent = await this.#client.send(new PutObjectCommand({ ...common, Body: body, ContentLength: size, IfNoneMatch: '*', ChecksumAlgorithm: 'SHA256', ChecksumSHA256: checksum }));
        // Verify after, where the server says what it stored (S3 does; some compatible servers do not).
        if (sent.ChecksumSHA256 !== undefined && sent.ChecksumSHA256 !== checksum) {
          throw new Error(`${key}: the bucket reports sha256 ${Buffer.from(sent.ChecksumSHA256, 'base64').toString('hex')} for what it stored, not ${sha256}`);
        }
      } else {
        await this.#putInParts(key, source, size, common);
      }
    } catch (error) {
      if (isExists(error)) throw new ObjectExistsError(key);
      throw error;
    }
    // Some S3-compatible servers ignore x-amz-tagging on a put; setting the same tag again is harmless.
    if (this.#lock === 'none' && options.retainUntil !== undefined) await this.#setTag(key, TAG_RETAIN, String(options.retainUntil));
    return { key, size, sha256, retainUntil: options.retainUntil, legalHold: false };
  }

  async #putInParts(key: string, source: Uint8Array | { readonly file: string }, size: number, common: Record<string, unknown> & { Bucket: string; Key: string }): Promise<void> {
    const created = await this.#client.send(new CreateMultipartUploadCommand({ ...common, ChecksumAlgorithm: 'SHA256' }));
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new Error(`${key}: the bucket started a multipart upload without an upload id`);
    try {
      const parts: CompletedPart[] = [];
      const file = source instanceof Uint8Array ? undefined : await openFile(source.file, 'r');
      try {
        for (let offset = 0, number = 1; offset < size; offset += this.#partBytes, number++) {
          const length = Math.min(this.#partBytes, size - offset);
          let body: Uint8Array;
          if (source instanceof Uint8Array) body = source.subarray(offset, offset + length);
          else {
            body = Buffer.allocUnsafe(length);
            const { bytesRead } = await file!.read(body, 0, length, offset);
            if (bytesRead !== length) throw new Error(`${source.file} changed while it was uploaded`);
          }
          const checksum = createHash('sha256').update(body).digest('base64');
          const part = await this.#client.send(
            new UploadPartCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: body, ContentLength: length, ChecksumAlgorithm: 'SHA256', ChecksumSHA256: checksum }),
          );
          parts.push({ PartNumber: number, ETag: part.ETag, ChecksumSHA256: part.ChecksumSHA256 ?? checksum });
        }
      } finally {
        await file?.close();
      }
      await this.#client.send(new CompleteMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts }, IfNoneMatch: '*' }));
    } catch (error) {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkBlobKey(key);
    try {
      const got = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return got.Body === undefined ? new Uint8Array() : await got.Body.transformToByteArray();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async open(key: string): Promise<NodeJS.ReadableStream | undefined> {
    checkBlobKey(key);
    try {
      const got = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return got.Body instanceof Readable ? got.Body : Readable.from([]);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    return (await this.#head(key))?.info;
  }

  async #head(key: string): Promise<{ info: BlobInfo; versionId: string | undefined } | undefined> {
    checkBlobKey(key);
    let headed;
    try {
      headed = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    let retainUntil: number | undefined;
    let legalHold: boolean;
    if (this.#lock === 'none') {
      const tags = await this.#tags(key);
      const until = tags.get(TAG_RETAIN);
      retainUntil = until === undefined ? undefined : Number(until);
      legalHold = tags.get(TAG_HOLD) === 'on';
    } else {
      retainUntil = headed.ObjectLockRetainUntilDate?.getTime();
      legalHold = headed.ObjectLockLegalHoldStatus === 'ON';
    }
    const sha256 = headed.Metadata?.[META_SHA256] ?? '';
    return { info: { key, size: headed.ContentLength ?? 0, sha256, retainUntil, legalHold }, versionId: headed.VersionId };
  }

  async retain(key: string, until: number): Promise<void> {
    const current = await this.#stored(key);
    refuseShortening(key, current.info.retainUntil, until);
    if (this.#lock === 'none') await this.#setTag(key, TAG_RETAIN, String(until));
    else await this.#client.send(new PutObjectRetentionCommand({ ...current.version, Retention: { Mode: this.#lock, RetainUntilDate: new Date(until) } }));
  }

  async setLegalHold(key: string, on: boolean): Promise<void> {
    const current = await this.#stored(key);
    if (this.#lock === 'none') await this.#setTag(key, TAG_HOLD, on ? 'on' : undefined);
    else await this.#client.send(new PutObjectLegalHoldCommand({ ...current.version, LegalHold: { Status: on ? 'ON' : 'OFF' } }));
  }

  /** The stored object, and the version that retention and holds apply to (the one head saw). */
  async #stored(key: string): Promise<{ info: BlobInfo; version: { Bucket: string; Key: string; VersionId?: string } }> {
    const current = await this.#head(key);
    if (current === undefined) throw new BlobNotFoundError(key);
    return { info: current.info, version: { Bucket: this.#bucket, Key: key, ...(current.versionId === undefined ? {} : { VersionId: current.versionId }) } };
  }

  async deleteExpired(key: string, now: number): Promise<void> {
    const current = await this.#stored(key);
    refuseUnlessExpired(key, current.info, now);
    // With Object Lock the bucket is versioned: a delete without the version only adds a delete
    // marker and the bytes stay. Deleting the version is what frees them, and what the lock guards.
    await this.#client.send(new DeleteObjectCommand(this.#lock === 'none' ? { Bucket: this.#bucket, Key: key } : current.version));
  }

  async #tags(key: string): Promise<Map<string, string>> {
    const got = await this.#client.send(new GetObjectTaggingCommand({ Bucket: this.#bucket, Key: key }));
    return new Map((got.TagSet ?? []).flatMap((t) => (t.Key === undefined || t.Value === undefined ? [] : [[t.Key, t.Value] as const])));
  }

  /** Read-modify-write of the tag set: two instances changing one object's tags at once is an operator race we accept without Object Lock. */
  async #setTag(key: string, name: string, value: string | undefined): Promise<void> {
    const tags = await this.#tags(key);
    if (value === undefined) tags.delete(name);
    else tags.set(name, value);
    const TagSet: Tag[] = [...tags].map(([Key, Value]) => ({ Key, Value }));
    await this.#client.send(new PutObjectTaggingCommand({ Bucket: this.#bucket, Key: key, Tagging: { TagSet } }));
  }
}

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const handle = await openFile(path, 'r');
  try {
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), size };
}

async function readWhole(path: string, size: number): Promise<Uint8Array> {
  const handle = await openFile(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(size);
    const { bytesRead } = await handle.read(buffer, 0, size, 0);
    if (bytesRead !== size) throw new Error(`${path} changed while it was uploaded`);
    return buffer;
  } finally {
    await handle.close();
  }
}
