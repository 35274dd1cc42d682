/**
 * The service's optional webhook for chat, ticket and alerting systems (configured once, as
 * `jit.webhook`): each event this instance made — JIT events, ingest's `ingest.quarantine` — is
 * POSTed as JSON, signed with HMAC-SHA256 over `<timestamp>.<body>` (headers
 * `x-custody-timestamp`, `x-custody-signature: sha256=<hex>`, and `x-custody-event: <type>`),
 * retried with doubling delays. Sending happens off the request path: a slow or failing receiver
 * never delays or fails the call that made the event.
 */
import { createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { JitConfig } from './config.ts';

export type WebhookConfig = NonNullable<JitConfig['webhook']>;

/** Any JSON event with a `type` (the x-custody-event header); JIT events also carry their `seq`. */
export interface WebhookEvent {
  readonly type: string;
  readonly seq?: number;
}

const TIMEOUT_MS = 10_000;

export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class Webhook {
  readonly #config: WebhookConfig;
  readonly #log: FastifyBaseLogger;
  readonly #now: () => number;
  readonly #pending = new Set<Promise<void>>();
  readonly #abort = new AbortController();

  constructor(config: WebhookConfig, log: FastifyBaseLogger, now: () => number) {
    this.#config = config;
    this.#log = log;
    this.#now = now;
  }

  /** Queues the events; returns at once. */
  send(events: readonly WebhookEvent[]): void {
    for (const event of events) {
      const delivery = this.#deliver(event).finally(() => this.#pending.delete(delivery));
      this.#pending.add(delivery);
    }
  }

  /** Waits for deliveries under way (tests), without starting new retries after close. */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.settled();
  }

  async #deliver(event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    const { url, secret, attempts, retryDelayMs } = this.#config;
    for (let attempt = 1; attempt <= attempts && !this.#abort.signal.aborted; attempt++) {
      const timestamp = String(this.#now());
      let outcome: string;
      try {
        const response = await fetch(url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'x-custody-timestamp': timestamp, 'x-custody-signature': webhookSignature(secret, timestamp, body), 'x-custody-event': event.type },
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(TIMEOUT_MS)]),
        });
        await response.body?.cancel();
        if (response.ok) return;
        outcome = `answered ${response.status}`;
      } catch (error) {
        outcome = `failed: ${(error as Error).message}`;
      }
      // The URL's path may hold a receiver's token: log the origin only.
      this.#log.warn({ webhook: new URL(url).origin, event: event.type, ...(event.seq === undefined ? {} : { seq: event.seq }), attempt }, `webhook ${outcome}`);
      if (attempt < attempts) await sleep(retryDelayMs * 2 ** (attempt - 1), this.#abort.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
