/**
 * The capacity of the real record path: recorder/record-path/pipeline.ts
 * `RecordPipeline` (UTF-8 decode → redaction → asciicast line → Merkle leaf →
 * spool → checkpoints, seal at the end), driven in this process with no pty and
 * no worker thread, as fast as it takes the bytes. Nothing of the pipeline is
 * re-implemented here: the figures are the product code's.
 *
 * Input: the corpus as the pty delivers it ("\n" → "\r\n", ONLCR), cut into
 * ~4 KiB reads, each passed to `output(chunk, performance.now())` as the
 * session's worker does with each message. The event loop gets a turn after
 * every `readsPerTurn` reads, so the pipeline's own setImmediate work (the
 * end-of-turn output line, spool batches, checkpoints) runs as it does in the
 * worker: 1 read per turn is a worker that keeps up (one cast line per read),
 * more reads per turn is a worker draining a backlog of messages (fewer,
 * larger lines). The feeder also honours the session's record-backlog
 * watermarks, read from the pipeline's own `progress` messages, so the spool
 * queue stays bounded as in the recorder.
 *
 * Reported per GB of pty output: CPU seconds of this whole process (every
 * thread: JS, libuv's file-system pool, GC helpers) and wall time (which also
 * waits for writes and fdatasync), from the first `output` to `end()` resolved
 * (sealed). Two references time the same reads through plain platform calls,
 * not through the pipeline: TextDecoder + JSON.stringify (the string work any
 * asciicast recorder does) and one SHA-256 per read (a floor for hashing).
 *
 *   node bench/record-path.ts [--quick]      (also used by bench/throughput.ts)
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECORD_HIGH_WATER, RECORD_LOW_WATER } from '../recorder/session.ts';
import type { FromRecordWorker } from '../recorder/record-path/messages.ts';
import { RecordPipeline, type PipelineData } from '../recorder/record-path/pipeline.ts';
import { newSessionId } from '../recorder/session.ts';
import { createSpool, SPOOL_FILES, type SpoolMeta } from '../recorder/spool.ts';
import { originForSession, utf8 } from '../shared/bundle/index.ts';
import { devRedactionKey } from '../shared/redaction/fingerprint.ts';
import { countNewlines, createWorkspace } from './corpus.ts';
import { fmtMbps, isQuick, mb } from './report.ts';
import { DEFAULT_POLICY } from '../shared/redaction/policy.ts';

/** What n_tty hands a reader per read(): up to 4095 bytes (the benchmarks observe ~4 KB per onData). */
export const PTY_READ_BYTES = 4095;

/** The pty's view of `text`: "\n" becomes "\r\n" (ONLCR), cut into reads of `size` bytes. */
export function ptyReads(text: Uint8Array, size = PTY_READ_BYTES): Uint8Array[] {
  const converted = Buffer.from(Buffer.from(text).toString('latin1').replaceAll('\n', '\r\n'), 'latin1');
  const reads: Uint8Array[] = [];
  for (let i = 0; i < converted.length; i += size) reads.push(converted.subarray(i, i + size));
  return reads;
}

function total(reads: readonly Uint8Array[]): number {
  return reads.reduce((sum, read) => sum + read.length, 0);
}

export interface Timing {
  /** CPU seconds of this process (all threads). */
  readonly cpu: number;
  /** Wall seconds. */
  readonly wall: number;
}

async function timed<T>(run: () => T | Promise<T>): Promise<Timing & { value: T }> {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const value = await run();
  const used = process.cpuUsage(cpu);
  return { value, cpu: (used.user + used.system) / 1e6, wall: (performance.now() - wall) / 1000 };
}

export interface PipelineRun extends Timing {
  readonly readsPerTurn: number;
  /** Pty output bytes fed. */
  readonly bytes: number;
  /** session.cast as the pipeline left it in the spool. */
  readonly castBytes: number;
  readonly lines: number;
  /** Checkpoints the pipeline signed, by kind ("1 open, 40 size, …"). */
  readonly checkpoints: string;
  readonly checkpointCount: number;
  /** Times the feeder waited for the spool (output not yet under a checkpoint over RECORD_HIGH_WATER), as the session would pause the pty. */
  readonly pauses: number;
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** One session through RecordPipeline: spool set up (untimed), every read fed, then end() awaited (timed). */
export async function runPipeline(reads: readonly Uint8Array[], workDir: string, readsPerTurn: number): Promise<PipelineRun> {
  const sessionId = newSessionId();
  const origin = originForSession(sessionId);
  const spoolRoot = join(workDir, 'record-path-spool');
  const meta: SpoolMeta = {
    version: 1,
    sessionId,
    origin,
    startedAt: Date.now(),
    command: ['bench'],
    cwd: '/',
    metadata: {},
    policyVersion: 'bench',
    bundlePath: join(workDir, `${sessionId}.custody`),
  };
  // The certificate's content does not matter here (nothing verifies this spool): only its hash is used, as `prev`.
  const certBytes = utf8('bench: session key certificate stand-in');
  const spoolDir = await createSpool(spoolRoot, meta, certBytes);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const data: PipelineData = {
    spoolDir,
    header: { version: 3, term: { cols: 120, rows: 40, type: 'xterm-256color' }, timestamp: Math.floor(meta.startedAt / 1000), command: 'bench', env: { TERM: 'xterm-256color' } },
    origin,
    keyName: `custody-session-${sessionId}`,
    sessionKey: privateKey,
    sessionPublicKey: rawPublicKey(publicKey),
    firstPrev: new Uint8Array(createHash('sha256').update(certBytes).digest()),
    policy: { ...DEFAULT_POLICY, version: 'bench', recordInput: true },
    redactionKey: devRedactionKey('bench'),
    knownSecrets: [],
    startAt: performance.now(),
  };

  let fed = 0;
  let checkpointed = 0;
  let pauses = 0;
  let failure: string | undefined;
  let wake: (() => void) | undefined;
  const kinds = new Map<string, number>();
  const post = (message: FromRecordWorker): void => {
    switch (message.t) {
      case 'progress':
        checkpointed = message.checkpointed;
        if (wake !== undefined && fed - checkpointed <= RECORD_LOW_WATER) {
          wake();
          wake = undefined;
        }
        break;
      case 'checkpoint':
        kinds.set(message.kind, (kinds.get(message.kind) ?? 0) + 1);
        break;
      case 'failed':
      case 'limit':
        failure ??= message.t === 'failed' ? message.message : 'the recording reached its size limit';
        wake?.();
        break;
      case 'ready':
      case 'sealed':
        break;
      default:
        message satisfies never;
    }
  };

  try {
    const pipeline = await RecordPipeline.start(data, post);
    const run = await timed(async () => {
      for (let i = 0; i < reads.length && failure === undefined; i += readsPerTurn) {
        for (const read of reads.slice(i, i + readsPerTurn)) {
          pipeline.output(read, performance.now());
          fed += read.length;
        }
        if (fed - checkpointed > RECORD_HIGH_WATER) {
          pauses++;
          await new Promise<void>((resolve) => (wake = resolve));
        } else {
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      await pipeline.end(0, performance.now());
    });
    if (failure !== undefined) throw new Error(`the record path failed: ${failure}`);
    const cast = readFileSync(join(spoolDir, SPOOL_FILES.cast));
    return {
      readsPerTurn,
      bytes: fed,
      cpu: run.cpu,
      wall: run.wall,
      castBytes: statSync(join(spoolDir, SPOOL_FILES.cast)).size,
      lines: countNewlines(cast),
      checkpoints: [...kinds].map(([kind, n]) => `${n} ${kind}`).join(', '),
      checkpointCount: [...kinds.values()].reduce((sum, n) => sum + n, 0),
      pauses,
    };
  } finally {
    rmSync(spoolRoot, { recursive: true, force: true });
  }
}

/** Reference: the same reads through TextDecoder (stream) and JSON.stringify, nothing else. */
export async function runDecodeStringify(reads: readonly Uint8Array[]): Promise<Timing> {
  return timed(() => {
    const decoder = new TextDecoder('utf-8');
    let chars = 0;
    for (const read of reads) chars += JSON.stringify(decoder.decode(read, { stream: true })).length;
    return chars;
  });
}

/** Reference: one SHA-256 (node:crypto) per read. */
export async function runSha256(reads: readonly Uint8Array[]): Promise<Timing> {
  return timed(() => {
    let last = 0;
    for (const read of reads) last ^= createHash('sha256').update(read).digest()[0]!;
    return last;
  });
}

export interface RecordPathCapacity {
  readonly bytes: number;
  /** RecordPipeline at each reads-per-turn setting, best (least CPU) of the repeats. */
  readonly pipeline: readonly PipelineRun[];
  readonly decodeStringify: Timing;
  readonly sha256: Timing;
}

/**
 * Runs the pipeline at each `readsPerTurn` setting and the two references, `repeats` times in
 * rotation, keeping the least CPU of each (the machine is shared: noise only ever adds time).
 */
export async function measureRecordPath(sample: Uint8Array, workDir: string, readsPerTurn: readonly number[], repeats = 2): Promise<RecordPathCapacity> {
  const reads = ptyReads(sample);
  const best = <T extends Timing>(a: T | undefined, b: T): T => (a === undefined || b.cpu < a.cpu ? b : a);
  const pipeline = new Map<number, PipelineRun>();
  let decodeStringify: Timing | undefined;
  let sha256: Timing | undefined;
  for (let r = 0; r < repeats; r++) {
    for (const n of readsPerTurn) pipeline.set(n, best(pipeline.get(n), await runPipeline(reads, workDir, n)));
    decodeStringify = best(decodeStringify, await runDecodeStringify(reads));
    sha256 = best(sha256, await runSha256(reads));
  }
  return { bytes: total(reads), pipeline: readsPerTurn.map((n) => pipeline.get(n)!), decodeStringify: decodeStringify!, sha256: sha256! };
}

export function perGb(seconds: number, bytes: number): number {
  return (seconds / bytes) * 1e9;
}

/** Prints the capacity table (CPU s/GB, MB/s by CPU and by wall time, lines, checkpoints). */
export function printRecordPath(capacity: RecordPathCapacity, indent = '  '): void {
  const { bytes } = capacity;
  const row = (name: string, t: Timing, extra = ''): void => {
    const cpuRate = fmtMbps(bytes / 1e6 / t.cpu);
    const wallRate = fmtMbps(bytes / 1e6 / t.wall);
    console.log(`${indent}  ${name.padEnd(48)} ${perGb(t.cpu, bytes).toFixed(2).padStart(6)} s/GB  ${cpuRate.padStart(9)} ${wallRate.padStart(9)}${extra}`);
  };
  console.log(`${indent}record path capacity: ${mb(bytes, 0)} of pty output in ${PTY_READ_BYTES}-byte reads, in this process (no pty, no worker thread); best of repeats`);
  console.log(`${indent}  ${''.padEnd(48)} ${'CPU'.padStart(6)}       ${'MB/s CPU'.padStart(9)} ${'MB/s wall'.padStart(9)}`);
  for (const run of capacity.pipeline) {
    row(
      `RecordPipeline, ${run.readsPerTurn} read${run.readsPerTurn === 1 ? '' : 's'} per turn`,
      run,
      `  ${(run.bytes / run.lines / 1024).toFixed(1)} KiB output/line, ${run.checkpointCount} checkpoints (${run.checkpoints})${run.pauses > 0 ? `, ${run.pauses} spool waits` : ''}`,
    );
  }
  row('reference: TextDecoder + JSON.stringify per read', capacity.decodeStringify);
  row('reference: SHA-256 per read (node:crypto)', capacity.sha256);
  const first = capacity.pipeline[0];
  if (first !== undefined) console.log(`${indent}  session.cast bytes per byte of output: ${(first.castBytes / first.bytes).toFixed(2)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = isQuick();
  const workspace = createWorkspace('record-path', quick ? 16_000_000 : 64_000_000);
  try {
    const capacity = await measureRecordPath(readFileSync(workspace.corpus), workspace.dir, [1, 16]);
    printRecordPath(capacity);
  } finally {
    workspace.remove();
  }
}
