/**
 * Where the service keeps recordings: a write-once object store behind one small interface,
 * with two implementations (a local directory, the embedded default; an S3-compatible bucket
 * with Object Lock at scale) and one test suite run against both.
 *
 * Write-once: `put` of a key that exists is refused (ObjectExistsError), never an overwrite; and
 * nothing in the interface deletes a recording before its retention ends or while it is under
 * legal hold.
 */

/** `put` of a key that already exists. */
export class ObjectExistsError extends Error {
  constructor(key: string) {
    super(`${key} is already stored, and stored objects are never overwritten`);
    this.name = 'ObjectExistsError';
  }
}

/** A key that is not one of ours (`..`, a leading `/`, characters outside BLOB_KEY): refused before any I/O. */
export class BlobKeyError extends Error {
  constructor(key: string) {
    super(`${JSON.stringify(key.length > 200 ? `${key.slice(0, 200)}…` : key)} is not a blob key: keys are 1-${MAX_BLOB_KEY_LENGTH} characters of path segments of A-Z a-z 0-9 . _ -, without "." or ".." segments or a leading "/"`);
    this.name = 'BlobKeyError';
  }
}

/** `put` whose bytes do not hash to `options.sha256`: nothing is stored. */
export class BlobDigestError extends Error {
  constructor(key: string, expected: string, actual: string) {
    super(`${key}: the bytes hash to sha256 ${actual}, not the ${expected} given; nothing was stored`);
    this.name = 'BlobDigestError';
  }
}

/** `retain`, `setLegalHold` or `deleteExpired` of a key that is not stored. */
export class BlobNotFoundError extends Error {
  constructor(key: string) {
    super(`${key} is not stored`);
    this.name = 'BlobNotFoundError';
  }
}

/** A change retention forbids: shortening it, or deleting before it ends or while held. */
export class RetentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetentionError';
  }
}

export const MAX_BLOB_KEY_LENGTH = 1024;

/** Throws BlobKeyError unless `key` is one of ours. */
export function checkBlobKey(key: string): void {
  if (key.length > MAX_BLOB_KEY_LENGTH || !BLOB_KEY.test(key)) throw new BlobKeyError(key);
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The rule both stores apply before a delete: not held, and retention (if any) has ended. */
export function refuseUnlessExpired(key: string, info: BlobInfo, now: number): void {
  if (info.legalHold) throw new RetentionError(`${key} is under legal hold and cannot be deleted`);
  if (info.retainUntil !== undefined && now < info.retainUntil) {
    throw new RetentionError(`${key} is retained until ${new Date(info.retainUntil).toISOString()} and cannot be deleted before then`);
  }
}

/** Retention is only ever extended. */
export function refuseShortening(key: string, from: number | undefined, until: number): void {
  if (from !== undefined && until < from) {
    throw new RetentionError(`${key} is retained until ${new Date(from).toISOString()}; retention is only ever extended, not shortened to ${new Date(until).toISOString()}`);
  }
}

/** Keys are ours (`recordings/2026/11/<session>.custody`): path-like, no `..`, no leading `/`. */
export const BLOB_KEY = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

export interface BlobInfo {
  readonly key: string;
  readonly size: number;
  /** SHA-256 of the bytes, hex, as given to `put` (checked against the bytes written). */
  readonly sha256: string;
  /** Until when the object may not be deleted (ms since the epoch), if set. */
  readonly retainUntil: number | undefined;
  readonly legalHold: boolean;
}

export interface PutOptions {
  /** SHA-256 of the bytes, hex: the store checks what it wrote against it. */
  readonly sha256: string;
  readonly retainUntil?: number;
  readonly contentType?: string;
}

export interface BlobStore {
  readonly kind: 'directory' | 's3';
  /** Stores `bytes` (or a file's contents) under `key` once. */
  put(key: string, source: Uint8Array | { readonly file: string }, options: PutOptions): Promise<BlobInfo>;
  /** The whole object, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** A stream of the object (large exports), or undefined. */
  open(key: string): Promise<NodeJS.ReadableStream | undefined>;
  head(key: string): Promise<BlobInfo | undefined>;
  /** Extends retention (never shortens it). */
  retain(key: string, until: number): Promise<void>;
  setLegalHold(key: string, on: boolean): Promise<void>;
  /** Deletes an object whose retention has ended and that is not held; refuses otherwise. */
  deleteExpired(key: string, now: number): Promise<void>;
}
