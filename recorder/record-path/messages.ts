/**
 * The contract between a session's pty thread and its record-path worker
 * thread, inside the recorder process. The pty thread stamps every event with
 * its own clock (performance.now()), so intervals do not depend on when the
 * worker gets to them.
 */
import type { KeyObject } from 'node:crypto';
import type { CastHeader, CheckpointKind } from '../../shared/bundle/index.ts';
import type { RedactionPolicyRef } from '../protocol.ts';
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
  readonly policy: RedactionPolicyRef;
  readonly knownSecrets: readonly string[];
  /** performance.now() in the pty thread when the header was written (time 0 of the recording). */
  readonly startAt: number;
  /** Output arrives through this shared ring (ring.ts), not as messages. */
  readonly ring: RingBuffers;
}

/**
 * Every message carries `outputPos`, the ring's write position when it was sent:
 * the worker first records all output written before it, so keystrokes, resizes
 * and the exit keep their order relative to the output around them.
 */
export type ToRecordWorker =
  | { readonly t: 'input'; readonly text: string; readonly at: number; readonly outputPos: bigint }
  | { readonly t: 'resize'; readonly cols: number; readonly rows: number; readonly at: number; readonly outputPos: bigint }
  /** The program has exited with this status: write the exit event and seal. */
  | { readonly t: 'end'; readonly status: number; readonly at: number; readonly outputPos: bigint };

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
