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
