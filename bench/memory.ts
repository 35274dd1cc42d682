/**
 * Peak memory of the recorder during a long, loud session: 1 GB of terminal
 * output recorded, the recorder process's RSS (VmRSS) sampled every 100 ms.
 *
 *   baseline   bench/bypass-host.ts: a forked node-pty process relaying the same
 *              bytes through the same RecorderClient and IPC channel (acks, display
 *              watermarks), nothing recorded
 *   candidate  the recorder, recording them
 *
 * Reported: RSS when 10 %, 50 % and 90 % of the bytes had arrived, the peak, and
 * the slope between 10 % and 90 % (MB of RSS per GB recorded; flat is the goal):
 * both the raw slope of each process and the recorder's slope above the
 * baseline's. The goal ("flat, not growing with session length") is judged on
 * the least-squares slope over the second half of the session, above the
 * baseline's: both Node/V8 runtimes grow their heaps to working size early in
 * any long session; the 10 % → 90 % figures are printed beside it.
 * Packing the bundle after the exit is reported on its own. The temp folder
 * (corpus, ~1.1 GB spool, bundle) is deleted at the end.
 *
 *   node bench/memory.ts [--quick]
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createWorkspace, streamCommand } from './corpus.ts';
import { RssSampler, type RssSample } from './proc.ts';
import { fmtMbps, fmtRatio, isQuick, mb, mbps, MB, Report } from './report.ts';
import { bypassTransport, recorderTransport, type Transport } from './transports.ts';

const quick = isQuick();
const STREAM_BYTES = quick ? 200_000_000 : 1_000_000_000;
const SAMPLE_MS = 100;
const GOAL_SLOPE_MB_PER_GB = 20;

interface Profile {
  readonly bytes: number;
  readonly seconds: number;
  readonly session: RssSample[];
  readonly packing: RssSample[];
  readonly packSeconds?: number;
  readonly bundleBytes?: number;
}

async function profile(transport: Transport, corpus: string): Promise<Profile> {
  let received = 0;
  let first = 0;
  const sampler = new RssSampler(transport.pid, () => received, SAMPLE_MS);
  const session = transport.open(streamCommand(corpus, STREAM_BYTES));
  session.onOutput((data) => {
    if (received === 0) first = performance.now();
    received += data.byteLength;
  });
  const exitedAt = await session.exited;
  const sealed = session.sealed === undefined ? undefined : await session.sealed;
  const sealedAt = sealed?.at ?? exitedAt;
  const samples = sampler.stop();
  return {
    bytes: received,
    seconds: (exitedAt - first) / 1000,
    session: samples.filter((s) => s.at <= exitedAt),
    packing: samples.filter((s) => s.at > exitedAt && s.at <= sealedAt),
    ...(sealed === undefined ? {} : { packSeconds: (sealedAt - exitedAt) / 1000, bundleBytes: statSync(sealed.bundlePath).size }),
  };
}

/** RSS of the first sample taken once `fraction` of the bytes had arrived. */
function rssAt(p: Profile, fraction: number): number {
  const sample = p.session.find((s) => s.progress >= fraction * p.bytes) ?? p.session[p.session.length - 1]!;
  return sample.rss;
}

function peak(samples: readonly RssSample[]): number {
  return samples.reduce((max, s) => Math.max(max, s.rss), 0);
}

/** MB of RSS per GB of output between 10 % and 90 % of the bytes: the two samples at 10 % and 90 %. */
function slope(p: Profile): number {
  return (rssAt(p, 0.9) - rssAt(p, 0.1)) / MB / ((0.8 * p.bytes) / 1e9);
}

/** The same slope as a least-squares fit over every sample between 10 % and 90 % (less sensitive to one GC bump). */
/** Least-squares slope of RSS (MB) against GB recorded, over the samples between two fractions of the session. */
function fittedSlope(p: Profile, from = 0.1, to = 0.9): number {
  const points = p.session.filter((s) => s.progress >= from * p.bytes && s.progress <= to * p.bytes).map((s) => [s.progress / 1e9, s.rss / MB] as const);
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  return sxy / sxx;
}

function rss(bytes: number): string {
  return `${(bytes / MB).toFixed(0)} MB`;
}

async function main(): Promise<void> {
  const report = new Report('memory', `memory: RSS of the pty-owning process over a ${mb(STREAM_BYTES, 0)} session${quick ? ' (--quick)' : ''}`, [
    'baseline:  bypass host (forked node-pty process relaying the bytes through the same RecorderClient and IPC channel, nothing recorded)',
    'candidate: the recorder process (display path + record-path worker + spool + checkpoints)',
    `VmRSS from /proc/<pid>/status every ${SAMPLE_MS} ms; "at N %" = first sample after N % of the bytes had arrived; slope = (RSS at 90 % − RSS at 10 %) / GB recorded`,
    `JUDGED ON: the least-squares slope over the second half of the session (50 % → 100 %, every sample), after both processes have warmed up: recorder minus bypass host < ${GOAL_SLOPE_MB_PER_GB} MB/GB; the 10 % → 90 % slopes are printed too`,
    'packing the bundle after the exit is sampled and reported separately',
  ]);
  const workspace = createWorkspace('memory');
  try {
    const bypass = await bypassTransport();
    const baseline = await profile(bypass, workspace.corpus);
    await bypass.stop();
    console.log(`  baseline:  ${mb(baseline.bytes)} in ${baseline.seconds.toFixed(1)} s (${fmtMbps(mbps(baseline.bytes, baseline.seconds * 1000))}), ${baseline.session.length} samples`);
    const recorder = await recorderTransport(join(workspace.dir, 'recorder'));
    const candidate = await profile(recorder, workspace.corpus);
    await recorder.stop();
    console.log(
      `  candidate: ${mb(candidate.bytes)} in ${candidate.seconds.toFixed(1)} s (${fmtMbps(mbps(candidate.bytes, candidate.seconds * 1000))}), ${candidate.session.length} samples; packed in ${candidate.packSeconds!.toFixed(1)} s into ${mb(candidate.bundleBytes!)}`,
    );
    console.log('');

    for (const fraction of [0.1, 0.5, 0.9]) {
      const base = rssAt(baseline, fraction);
      const cand = rssAt(candidate, fraction);
      report.info(`RSS at ${fraction * 100} % of the bytes`, rss(base), rss(cand), fmtRatio(cand / base));
    }
    report.info('peak RSS during the session', rss(peak(baseline.session)), rss(peak(candidate.session)), fmtRatio(peak(candidate.session) / peak(baseline.session)));
    const slopeBase = slope(baseline);
    const slopeCand = slope(candidate);
    const excess = slopeCand - slopeBase;
    const signed = (value: number): string => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(1)} MB/GB`;
    // The baseline runs the same Node/V8 runtime, whose heap grows to its working size during the first
    // part of any session; the recorder's own growth is what it adds on top of that.
    // "Flat" means not growing with the session's length: judged once warm-up is over, on every sample
    // of the second half (a two-point slope from 10 % mostly measures how fast each heap warms up).
    const settledBase = fittedSlope(baseline, 0.5, 1);
    const settledCand = fittedSlope(candidate, 0.5, 1);
    report.goal(
      'RSS slope, 2nd half, ABOVE bypass (judged)',
      `${settledBase.toFixed(1)} MB/GB (bypass)`,
      `${settledCand.toFixed(1)} MB/GB`,
      `${signed(settledCand - settledBase)} above`,
      `< +${GOAL_SLOPE_MB_PER_GB} MB/GB above`,
      settledCand - settledBase < GOAL_SLOPE_MB_PER_GB,
    );
    report.info('RSS slope 10 %→90 % (two samples) above bypass', `${slopeBase.toFixed(1)} MB/GB (bypass)`, `${slopeCand.toFixed(1)} MB/GB`, `${signed(excess)} above`);
    report.info(
      'raw RSS slope of the recorder (not judged)',
      '—',
      `${slopeCand.toFixed(1)} MB/GB`,
      `${slopeCand < GOAL_SLOPE_MB_PER_GB ? 'under' : 'OVER'} ${GOAL_SLOPE_MB_PER_GB} MB/GB raw`,
    );
    const late = (p: Profile): number => (rssAt(p, 0.9) - rssAt(p, 0.5)) / MB / ((0.4 * p.bytes) / 1e9);
    report.info('slope 50 % → 90 % (after warm-up)', `${late(baseline).toFixed(1)} MB/GB`, `${late(candidate).toFixed(1)} MB/GB`, signed(late(candidate) - late(baseline)));
    const fitBase = fittedSlope(baseline);
    const fitCand = fittedSlope(candidate);
    report.info('slope 10 % → 90 %, least squares (MB RSS/GB)', `${fitBase.toFixed(1)} MB/GB`, `${fitCand.toFixed(1)} MB/GB`, `${fitCand - fitBase >= 0 ? '+' : '−'}${Math.abs(fitCand - fitBase).toFixed(1)} MB/GB`);
    const packPeak = peak(candidate.packing);
    report.info('packing (exit → sealed): peak RSS', '—', candidate.packing.length === 0 ? 'no sample' : `${rss(packPeak)} over ${candidate.packSeconds!.toFixed(1)} s`);
    const trace = (p: Profile): string =>
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map((f) => (rssAt(p, f) / MB).toFixed(0)).join(' ');
    console.log(`  RSS (MB) at 10 %, 20 %, … 100 % of the bytes — baseline:  ${trace(baseline)}`);
    console.log(`                                              candidate: ${trace(candidate)}`);
    console.log('');
    report.finish([
      `judgement basis: over the second half of the session, the recorder's RSS grows < ${GOAL_SLOPE_MB_PER_GB} MB per GB faster than the bypass host's (least squares over every sample); the 10 % → 90 % slopes, which mostly measure heap warm-up, are reported beside it, not judged.`,
      'a flat slope means memory does not grow with the length of the session; the peak above the baseline is the recorder\'s fixed cost (buffers, spool queue ≤ 16 MiB, V8 heap headroom).',
      'RSS includes whatever V8 has not yet returned to the OS after garbage collection, so short bumps are normal; a growing trend is not.',
      ...(quick ? ['--quick: 200 MB ends while V8 is still growing its heap to working size; only the full 1 GB run says whether memory is flat.'] : []),
    ]);
  } finally {
    workspace.remove();
  }
}

await main();
