/**
 * Keys to a pty, written through the recorder's own duplicate of its master fd
 * (`holdPtyMaster`) instead of node-pty's `write`.
 *
 * node-pty queues writes and runs each as an asynchronous fs.write on its fd
 * number. When the program exits, node-pty closes that fd; a write still
 * queued or in flight then runs on whatever the number names by then, and a
 * session opened meanwhile gets the lowest free number: the old session's keys
 * (a password typed as the program ended) would be typed into the new
 * session's program. Our duplicate is closed only after the last write on it
 * has returned, so its number can name nothing else while a write is pending.
 *
 * The master is non-blocking (node-pty sets O_NONBLOCK on the shared file
 * description): a full pty input buffer answers EAGAIN, and the write is tried
 * again shortly, in order.
 */
import { closeSync, write } from 'node:fs';

/** How long to wait before trying again when the pty's input buffer is full. */
const RETRY_MS = 5;

export class MasterWriter {
  readonly #fd: number;
  readonly #queue: Buffer[] = [];
  #inFlight = false;
  #closed = false;
  #fdClosed = false;
  #onIdle: (() => void) | undefined;
  #retry: NodeJS.Timeout | undefined;

  /** `fd` is owned from now on: `close()` closes it. */
  constructor(fd: number) {
    this.#fd = fd;
  }

  get fd(): number {
    return this.#fd;
  }

  /** Queues `data` (UTF-8) for the program. Nothing is written after `close()`. */
  write(data: string | Uint8Array): void {
    if (this.#closed) return;
    this.#queue.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data));
    if (!this.#inFlight && this.#retry === undefined) this.#pump();
  }

  /**
   * Drops keys not yet written (the program is gone), waits for a write in
   * flight to return, then closes the fd. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.length = 0;
      clearTimeout(this.#retry);
      this.#retry = undefined;
    }
    if (this.#inFlight) return new Promise<void>((resolve) => (this.#onIdle = resolve)).then(() => this.#closeFd());
    this.#closeFd();
    return Promise.resolve();
  }

  #closeFd(): void {
    if (this.#fdClosed) return;
    this.#fdClosed = true;
    try {
      closeSync(this.#fd);
    } catch {
      // already gone
    }
  }

  #pump(): void {
    const head = this.#queue[0];
    if (head === undefined || this.#closed) return;
    this.#inFlight = true;
    write(this.#fd, head, 0, head.length, null, (error, written) => {
      this.#inFlight = false;
      if (this.#closed) {
        this.#onIdle?.();
        return;
      }
      if (error !== null) {
        if (error.code === 'EAGAIN') {
          this.#retry = setTimeout(() => {
            this.#retry = undefined;
            this.#pump();
          }, RETRY_MS);
          return;
        }
        // EIO and the like: the pty is gone; its program can read nothing more.
        this.#queue.length = 0;
        return;
      }
      if (written < head.length) this.#queue[0] = head.subarray(written);
      else this.#queue.shift();
      this.#pump();
    });
  }
}
