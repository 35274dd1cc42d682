/**
 * JIT latency: the whole path an admin waits through — file a request, an approver approves it,
 * the requester starts the grant and gets an SSH certificate for their key — at 50 concurrent
 * clients, p50 and p99 per flow. The service runs on its embedded defaults (dev IdP, SQLite,
 * loopback). Baseline from the same run: an authenticated GET /v1/me at the same concurrency,
 * the floor of one signed-in call (token check, routing, JSON); the flow makes four calls, so a
 * flow at about 4× the baseline means the JIT and CA logic add little of their own.
 *
 *   node bench/jit.ts [--quick]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Caller } from '../server/service.test-support.ts';
import { fmtMs, fmtRatio, isQuick, percentile, Report } from './report.ts';

const quick = isQuick();
const CLIENTS = 50;
const FLOWS_PER_CLIENT = quick ? 4 : 10;

async function json<T>(response: Response, what: string): Promise<T> {
  if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function timedRounds(run: () => Promise<void>): Promise<{ times: number[]; wall: number }> {
  const times: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < FLOWS_PER_CLIENT; i++) {
        const t0 = performance.now();
        await run();
        times.push(performance.now() - t0);
      }
    }),
  );
  return { times, wall: performance.now() - start };
}

const keyDir = await mkdtemp(join(tmpdir(), 'custody-bench-jit-'));
const harness = await startHarness();
try {
  const made = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'id'), '-C', 'bench'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`ssh-keygen: ${made.stderr}`);
  const publicKey = (await readFile(join(keyDir, 'id.pub'), 'utf8')).trim();
  const [erin, alice, bob] = await Promise.all([harness.as('erin'), harness.as('alice'), harness.as('bob')]);
  const target = await json<{ id: string }>(await erin.post('/v1/jit/targets', { name: 'bench-host', host: 'bench.test', port: 22, principals: ['ops'], environment: 'dev' }), 'target');
  await json(await erin.post('/v1/jit/policies', { id: 'bench', rules: { name: 'bench', requesterGroups: ['custody-admins'], approverGroups: ['custody-approvers'], maxDurationMinutes: 60, reasonRequired: true } }), 'policy');

  const flow = async (requester: Caller, approver: Caller): Promise<void> => {
    const filed = await json<{ id: string }>(await requester.post('/v1/jit/requests', { targetId: target.id, principal: 'ops', durationMinutes: 30, reason: 'benchmark' }), 'file');
    await json(await approver.post(`/v1/jit/requests/${filed.id}/reviews`, { decision: 'approve', reason: 'ok' }), 'approve');
    await json(await requester.post(`/v1/jit/requests/${filed.id}/start`, {}), 'start');
    await json(await requester.post(`/v1/grants/${filed.id}/certificate`, { publicKey }), 'certificate');
  };
  const me = async (): Promise<void> => {
    await json(await alice.get('/v1/me'), 'me');
  };

  // Warm up both paths (JIT-compiled code, the JWKS cache, SQLite pages).
  await Promise.all(Array.from({ length: 10 }, () => flow(alice, bob)));
  await Promise.all(Array.from({ length: 50 }, me));

  const baseline = await timedRounds(me);
  const flows = await timedRounds(() => flow(alice, bob));

  const report = new Report('jit', 'JIT request → approval → start → SSH certificate, 50 concurrent clients', [
    `${CLIENTS} clients, ${FLOWS_PER_CLIENT} flows each, one after another; service on SQLite (embedded defaults), dev IdP tokens, all on loopback.`,
    'A flow: POST request, POST approval (another user), POST start, POST certificate (ssh-keygen -s). Baseline: GET /v1/me at the same concurrency.',
  ]);
  const p50 = percentile(flows.times, 50);
  const p99 = percentile(flows.times, 99);
  const b50 = percentile(baseline.times, 50);
  const b99 = percentile(baseline.times, 99);
  report.info('flow latency p50', `${fmtMs(b50, 1)} (GET /v1/me)`, fmtMs(p50, 1), fmtRatio(p50 / b50));
  report.info('flow latency p99', `${fmtMs(b99, 1)} (GET /v1/me)`, fmtMs(p99, 1), fmtRatio(p99 / b99));
  report.info('flows per second', `${((baseline.times.length / baseline.wall) * 1000).toFixed(0)} calls/s`, `${((flows.times.length / flows.wall) * 1000).toFixed(0)} flows/s`);
  report.finish([
    'the issue sets no number for this; it is printed so that a change that slows the path shows. SQLite has one writer: at 50 clients most of a flow is waiting its turn.',
    'each certificate runs ssh-keygen once (about 10 ms of process start on this machine).',
  ]);
} finally {
  await harness.stop();
  await rm(keyDir, { recursive: true, force: true });
}
