/**
 * Test support: a Server-Sent Events client over fetch, reading frames as they come (the event
 * id, the event name, the data, and comment lines), so tests can wait for the frame they expect.
 */
export interface SseFrame {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string | undefined;
  /** A comment line (`: heartbeat`), without the colon. */
  readonly comment: string | undefined;
}

export interface SseStream {
  readonly status: number;
  /** Resolves with the first frame from now on (or already received and not taken) that matches. */
  next(match?: (frame: SseFrame) => boolean): Promise<SseFrame>;
  /** Every frame received so far. */
  readonly frames: SseFrame[];
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream & { response: Response }> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const frames: SseFrame[] = [];
  let taken = 0;
  const waiters: (() => void)[] = [];
  let ended = false;
  if (response.ok && response.body !== null) {
    void (async () => {
      const decoder = new TextDecoder();
      let text = '';
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          text += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = text.indexOf('\n\n')) >= 0) {
            const block = text.slice(0, end);
            text = text.slice(end + 2);
            const fields: Record<string, string> = {};
            let comment: string | undefined;
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comment = line.slice(1).trim();
              else {
                const colon = line.indexOf(':');
                fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
              }
            }
            frames.push({ id: fields['id'], event: fields['event'], data: fields['data'], comment });
            for (const wake of waiters.splice(0)) wake();
          }
        }
      } catch {
        // aborted by close()
      }
      ended = true;
      for (const wake of waiters.splice(0)) wake();
    })();
  }
  return {
    response,
    status: response.status,
    frames,
    async next(match = () => true) {
      for (;;) {
        while (taken < frames.length) {
          const frame = frames[taken++]!;
          if (match(frame)) return frame;
        }
        if (ended) throw new Error(`the event stream ended; frames: ${JSON.stringify(frames)}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    close: () => abort.abort(),
  };
}

/** A frame that carries a JIT event (the default event name). */
export const isEvent = (frame: SseFrame): boolean => frame.event === undefined && frame.data !== undefined;
