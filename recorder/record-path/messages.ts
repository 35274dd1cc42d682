/**
 * The contract between a session's pty thread and its record-path worker
 * thread, inside the recorder process. Events go one way through the shared
 * ring (ring.ts), stamped with the pty thread's clock (performance.now()) so
 * that intervals do not depend on when the worker gets to them; the worker
 * answers with these messages.
 */
import type { KeyObject } from 'node:crypto';
import type { CastHeader, CheckpointKind } from '../../shared/bundle/index.ts';
import type { RedactionKey } from '../../shared/redaction/fingerprint.ts';
import type { RedactionPolicy } from '../../shared/redaction/policy.ts';
import type { RingBuffers } from './ring.ts';

export interface RecordWorkerData {
  readonly spoolDir: string;
  readonly header: CastHeader;
  readonly origin: string;
  /** C2SP note key name of the session key. */
  readonly keyName: string;
  /** The session's private key: it exists only in this process and never touches the disk. */
  readonly sessionKey: KeyObject;
  readonly sessionPublicKey: Uint8Array;
  /** SHA-256 of keys/session-key.dsse.json: the first checkpoint's `prev`. */
  readonly firstPrev: Uint8Array;
  readonly policy: RedactionPolicy;
  /** The key for redaction fingerprints (HMAC): markers name a secret without revealing it. */
  readonly redactionKey: RedactionKey;
  readonly knownSecrets: readonly string[];
  /** performance.now() in the pty thread when the header was written (time 0 of the recording). */
  readonly startAt: number;
  /** Output, keystrokes, resizes and the exit arrive through this shared ring (ring.ts), in order. */
  readonly ring: RingBuffers;
}

export type FromRecordWorker =
  /** The spool files are open and the header is queued: the program may start. */
  | { readonly t: 'ready' }
  | { readonly t: 'checkpoint'; readonly kind: CheckpointKind; readonly size: number; readonly note: string }
  /**
   * Raw output bytes now covered by a completed checkpoint (on disk and signed).
   * The pty thread pauses the program when too much output is not yet covered.
   */
  | { readonly t: 'progress'; readonly checkpointed: number }
  /** The recording reached MAX_RECORDING_BYTES: the session must end. */
  | { readonly t: 'limit' }
  /** The spool refused a write: the session must end at once (fail closed). */
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'sealed'; readonly redactionCounts: Record<string, number> };
