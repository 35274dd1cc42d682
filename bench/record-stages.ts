/**
 * Where the recorder's time goes: each stage of the record path run in this
 * process over the same pty-sized chunks of the corpus, in the order
 * recorder/session.ts runs them (#onOutput → #recordText → #appendLine), timed
 * one stage at a time. Used by bench/throughput.ts to attribute a miss; the
 * figures are seconds of CPU per GB of pty output.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { formatCheckpoint, MerkleAccumulator, originForSession, serializeEvent, signNote } from '../shared/bundle/index.ts';
import { ephemeralSigner, nodeSuite } from '../recorder/node-crypto.ts';
import { RecorderEventSchema } from '../recorder/protocol.ts';
import { Spool } from '../recorder/spool.ts';

/** What n_tty hands a reader per read(): up to 4095 bytes (the benchmarks observe ~4 KB per onData). */
const PTY_CHUNK = 4095;
/** recorder/session.ts MAX_EVENT_CHARS */
const MAX_EVENT_CHARS = 16 * 1024;
/** recorder/session.ts CHECKPOINT_OUTPUT_BYTES */
const CHECKPOINT_OUTPUT_BYTES = 1024 * 1024;

export interface Stage {
  readonly name: string;
  /** CPU seconds of this process per GB of pty output. */
  readonly cpuPerGb: number;
  /** Wall seconds per GB (differs from CPU for stages that wait for the disk). */
  readonly wallPerGb: number;
}

/** The pty's view of `text`: "\n" becomes "\r\n" (ONLCR), cut into reads of PTY_CHUNK bytes. */
function ptyChunks(text: Buffer, size: number): Buffer[] {
  const converted = Buffer.from(text.toString('latin1').replaceAll('\n', '\r\n'), 'latin1');
  const chunks: Buffer[] = [];
  for (let i = 0; i < converted.length; i += size) chunks.push(converted.subarray(i, i + size));
  return chunks;
}

/** Same as recorder/session.ts slices(): at most `max` UTF-16 units, never cutting a surrogate pair. */
function* slices(text: string, max: number): Generator<string> {
  let start = 0;
  while (text.length - start > max) {
    let end = start + max;
    const code = text.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end--;
    yield text.slice(start, end);
    start = end;
  }
  if (start < text.length) yield text.slice(start);
}

async function timed<T>(run: () => T | Promise<T>): Promise<{ value: T; cpu: number; wall: number }> {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const value = await run();
  const used = process.cpuUsage(cpu);
  return { value, cpu: (used.user + used.system) / 1e6, wall: (performance.now() - wall) / 1000 };
}

export interface RecordStages {
  readonly stages: readonly Stage[];
  /** Bytes of session.cast per byte of pty output (JSON escaping of ANSI codes and "\r\n" inflates it). */
  readonly castPerOutputByte: number;
}

/** `chunkBytes`: bytes per pty read (default: what n_tty delivers); larger values show what batching reads would save. */
export async function measureRecordStages(sample: Buffer, workDir: string, chunkBytes = PTY_CHUNK): Promise<RecordStages> {
  const chunks = ptyChunks(sample, chunkBytes);
  const bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const perGb = (seconds: number): number => (seconds / bytes) * 1e9;
  const stages: Stage[] = [];
  const add = (name: string, t: { cpu: number; wall: number }): void => {
    stages.push({ name, cpuPerGb: perGb(t.cpu), wallPerGb: perGb(t.wall) });
  };

  const sessionId = 'bench-stages-0001';
  add(
    'client: validate `output` event (zod)',
    await timed(() => {
      for (const data of chunks) RecorderEventSchema.safeParse({ type: 'output', sessionId, data });
    }),
  );
  const decoded = await timed(() => {
    const decoder = new TextDecoder('utf-8');
    return chunks.map((chunk) => decoder.decode(chunk, { stream: true }));
  });
  add('UTF-8 decode (TextDecoder, stream)', decoded);
  const serialized = await timed(() => {
    const lines: string[] = [];
    for (const text of decoded.value) for (const part of slices(text, MAX_EVENT_CHARS)) lines.push(serializeEvent({ interval: 0.000123, code: 'o', data: part }));
    return lines;
  });
  add('asciicast line (serializeEvent: JSON)', serialized);
  const encoded = await timed(() => serialized.value.map((line) => Buffer.from(line + '\n', 'utf8')));
  add('line → bytes (Buffer.from(line + "\\n"))', encoded);
  const tree = new MerkleAccumulator(nodeSuite);
  add(
    'Merkle leaf + tree (node:crypto SHA-256)',
    await timed(() => {
      for (const line of encoded.value) tree.appendLine(line.subarray(0, line.length - 1));
    }),
  );
  const castBytes = encoded.value.reduce((sum, line) => sum + line.length, 0);

  const spoolRoot = join(workDir, 'stages-spool');
  const origin = originForSession(sessionId);
  const meta = { version: 1 as const, sessionId, origin, startedAt: Date.now(), command: ['bench'], cwd: '/', metadata: {}, policyVersion: 'bench', bundlePath: join(workDir, 'x.custody') };
  const spool = await Spool.create(spoolRoot, meta, new Uint8Array([1, 2, 3]));
  try {
    add(
      'spool append (queued writes, no fsync)',
      await timed(async () => {
        for (const line of encoded.value) spool.cast.append(line);
        while (spool.pendingBytes > 0) await new Promise((resolve) => setImmediate(resolve));
      }),
    );
    // One checkpoint per MiB of output: fdatasync the cast, sign a note, append it, fdatasync the notes.
    // Each MiB is written (untimed) before its checkpoint, so that the fdatasync has a MiB of dirty data to flush.
    const key = ephemeralSigner();
    const checkpoints = Math.max(1, Math.floor(bytes / CHECKPOINT_OUTPUT_BYTES));
    const perCheckpoint = Math.floor(encoded.value.length / checkpoints);
    const total = { cpu: 0, wall: 0 };
    let prev: Uint8Array = nodeSuite.sha256(new Uint8Array(0));
    for (let i = 0; i < checkpoints; i++) {
      for (const line of encoded.value.slice(i * perCheckpoint, (i + 1) * perCheckpoint)) spool.cast.append(line);
      while (spool.pendingBytes > 0) await new Promise((resolve) => setImmediate(resolve));
      const one = await timed(async () => {
        await spool.cast.sync();
        const text = formatCheckpoint({ origin, size: tree.size, root: tree.root(), kind: 'size', time: Date.now(), prev });
        const note = signNote(nodeSuite, text, `custody-session-${sessionId}`, key);
        spool.notes.append(Buffer.from(note + '\n', 'utf8'));
        await spool.notes.sync();
        prev = nodeSuite.sha256(Buffer.from(note, 'utf8'));
      });
      total.cpu += one.cpu;
      total.wall += one.wall;
    }
    add(`checkpoint per MiB: fdatasync ×2 + Ed25519 (${(total.wall / checkpoints * 1000).toFixed(1)} ms each)`, total);
  } finally {
    await spool.close();
    rmSync(spoolRoot, { recursive: true, force: true });
  }
  return { stages, castPerOutputByte: castBytes / bytes };
}
