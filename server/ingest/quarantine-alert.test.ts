/**
 * A quarantined bundle raises an alert on the service's webhook (the one JIT uses): a signed
 * `ingest.quarantine` event that says which session, whose, why and where the bundle is kept,
 * and nothing of what the bundle holds.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { IngestRefusalSchema } from '../../shared/api/ingest.ts';
import { CAST_ENTRY, utf8 } from '../../shared/bundle/index.ts';
import { buildBundle, repack, withEntry } from '../../shared/bundle/test-support.ts';
import { webhookSignature } from '../jit/webhook.ts';
import { enrollTestDevice, startHarness, type Caller, type EnrolledTestDevice, type Harness } from '../service.test-support.ts';
import { sha256Hex, TusClient } from './tus.test-support.ts';

const SECRET = 'the quarantine test webhook secret';

interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

let receiver: Server;
const deliveries: Delivery[] = [];
const waiters: (() => void)[] = [];
let harness: Harness;
let alice: Caller;
let device: EnrolledTestDevice;

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      for (const wake of waiters.splice(0)) wake();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
  harness = await startHarness({ config: { jit: { webhook: { url, secret: SECRET, retryDelayMs: 10 } }, archive: { sweepIntervalMinutes: 0 } } });
  alice = await harness.as('alice');
  device = await enrollTestDevice(alice, 0x7a);
});
after(async () => {
  await harness?.stop();
  receiver?.close();
});

test('a tampered upload is quarantined and the webhook receives a signed ingest.quarantine alert without the bundle\'s content', async () => {
  const tus = new TusClient(harness.service.url, alice.tokens.accessToken);
  const built = buildBundle({ sessionId: 'alerted-1', startedAt: Date.now(), deviceKey: device.key });
  const intact = repack({ ...built.contents, deviceCert: utf8(device.certificate) }, device.key);
  const cast = Buffer.from(built.contents.cast).toString('utf8');
  const tampered = withEntry(intact, CAST_ENTRY, Buffer.from(cast.replace('README.md', 'README.mx')));

  const response = await tus.upload(tampered, 'alerted-1');
  assert.equal(response.status, 422, await response.clone().text());
  const refusal = IngestRefusalSchema.parse(await response.json());
  // Delivery is off the request path: wait for it (bounded, so that a missing alert fails rather than hangs).
  const patience = AbortSignal.timeout(20_000);
  while (deliveries.length === 0 && !patience.aborted) {
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      patience.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  const [alert] = deliveries;
  assert.equal(deliveries.length, 1, 'one alert for one quarantined bundle');
  assert.equal(alert!.headers['x-custody-event'], 'ingest.quarantine');
  const timestamp = String(alert!.headers['x-custody-timestamp']);
  assert.equal(alert!.headers['x-custody-signature'], webhookSignature(SECRET, timestamp, alert!.body), 'signed with the configured secret');
  const event = JSON.parse(alert!.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(event).sort(), ['at', 'owner', 'quarantineKey', 'reason', 'sessionId', 'sha256', 'status', 'type']);
  assert.deepEqual([event['type'], event['sessionId'], event['owner'], event['status'], event['quarantineKey'], event['sha256']], ['ingest.quarantine', 'alerted-1', 'alice', 422, refusal.quarantineKey, sha256Hex(tampered)]);
  assert.equal(event['reason'], refusal.message);
  assert.ok(!alert!.body.includes('README'), 'nothing of the recording is in the alert');

  // The same bundle again: already quarantined, no second alert.
  assert.equal((await tus.upload(tampered, 'alerted-1')).status, 422);
  const good = buildBundle({ sessionId: 'alerted-2', startedAt: Date.now(), deviceKey: device.key });
  const stored = await tus.upload(repack({ ...good.contents, deviceCert: utf8(device.certificate) }, device.key), 'alerted-2');
  assert.equal(stored.status, 200, await stored.clone().text());
  assert.equal(deliveries.length, 1, 'a repeated quarantine and a stored bundle raise no alert');
});
