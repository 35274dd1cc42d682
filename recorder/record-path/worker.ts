/**
 * Entry point of a session's record-path worker thread (see pipeline.ts).
 * Every event comes through the shared ring (ring.ts), in order. The worker
 * sleeps until the ring changes, then lets a little more accumulate before
 * taking it all: recording latency does not matter (the display path is
 * elsewhere), and larger batches cost much less per byte. While keystrokes
 * wait for their echo (raw-input.ts), it also wakes when their window ends.
 *
 * Records carry the pty thread's performance.now(); a worker thread's
 * performance.now() shares the process's time origin (Node), so the two compare.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromRecordWorker, RecordWorkerData } from './messages.ts';
import { OUTPUT_COALESCE_MS, RecordPipeline } from './pipeline.ts';
import { RingReader, type RingRecord } from './ring.ts';

/** One decode and one event per this much output at most, however much is waiting. */
const FEED_BYTES = 256 * 1024;
/** How long to let the ring fill after a wake-up. */
const GATHER_MS = 2;
/**
 * A key's echo window is judged this long after it ends when no record drove it: output stamped
 * inside the window may still be on its way through the pty thread.
 */
const ECHO_SLACK_MS = 20;

const port = parentPort;
if (port === null) throw new Error('record-path worker: start me as a worker thread');
const post = (message: FromRecordWorker): void => port.postMessage(message);
const data = workerData as RecordWorkerData;
const decoder = new TextDecoder();

function joined(records: readonly RingRecord[], from: number, to: number, size: number): Uint8Array {
  if (to === from + 1) return records[from]!.data;
  const out = new Uint8Array(size);
  let offset = 0;
  for (let k = from; k < to; k++) {
    out.set(records[k]!.data, offset);
    offset += records[k]!.data.length;
  }
  return out;
}

/** Applies records in order, joining neighbouring output that arrived close together. Returns true at the end. */
async function apply(pipeline: RecordPipeline, records: readonly RingRecord[]): Promise<boolean> {
  let i = 0;
  while (i < records.length) {
    const record = records[i]!;
    switch (record.kind) {
      case 'output': {
        let j = i + 1;
        let size = record.data.length;
        while (
          j < records.length &&
          records[j]!.kind === 'output' &&
          records[j]!.at - record.at <= OUTPUT_COALESCE_MS &&
          size + records[j]!.data.length <= FEED_BYTES
        ) {
          size += records[j]!.data.length;
          j++;
        }
        pipeline.output(joined(records, i, j, size), record.at);
        i = j;
        continue;
      }
      case 'input':
        pipeline.input(decoder.decode(record.data), record.at);
        break;
      case 'input-raw':
        pipeline.inputRaw(decoder.decode(record.data), record.at);
        break;
      case 'input-hidden':
        pipeline.inputHidden(record.at);
        break;
      case 'resize': {
        const view = new DataView(record.data.buffer, record.data.byteOffset, record.data.byteLength);
        pipeline.resize(view.getUint16(0, true), view.getUint16(2, true), record.at);
        break;
      }
      case 'end': {
        const view = new DataView(record.data.buffer, record.data.byteOffset, record.data.byteLength);
        await pipeline.end(view.getInt32(0, true), record.at);
        return true;
      }
      default:
        record.kind satisfies never;
    }
    i++;
  }
  return false;
}

async function run(): Promise<void> {
  try {
    const pipeline = await RecordPipeline.start(data, post);
    const ring = new RingReader(data.ring);
    post({ t: 'ready' });
    for (;;) {
      const seen = ring.signalValue;
      const now = performance.now();
      const records = ring.take();
      if (records.length > 0 && (await apply(pipeline, records))) break;
      // Everything stamped before `now` has been applied: windows that ended by then are over.
      pipeline.tick(now - ECHO_SLACK_MS);
      const deadline = pipeline.inputDeadline;
      await ring.changed(seen, deadline === undefined ? undefined : Math.max(1, deadline + ECHO_SLACK_MS - performance.now()));
      await sleep(GATHER_MS);
    }
  } catch (error) {
    post({ t: 'failed', message: (error as Error).message });
  }
  port?.close();
}

// Not a top-level await: after a failure the main thread terminates this thread mid-wait.
void run();
