/**
 * Entry point of a session's record-path worker thread (see pipeline.ts).
 * Output comes through the shared ring (ring.ts); keystrokes, resizes and the
 * end come as messages, each applied after the output written before it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromRecordWorker, RecordWorkerData, ToRecordWorker } from './messages.ts';
import { OUTPUT_COALESCE_MS, RecordPipeline } from './pipeline.ts';
import { RingReader, type RingRecord } from './ring.ts';

/** One decode and one event per this much output at most, however much is waiting. */
const FEED_BYTES = 256 * 1024;

const port = parentPort;
if (port === null) throw new Error('record-path worker: start me as a worker thread');
const post = (message: FromRecordWorker): void => port.postMessage(message);
const data = workerData as RecordWorkerData;

/** Hands records to the pipeline, joining neighbours that arrived close together. */
function feed(pipeline: RecordPipeline, records: readonly RingRecord[]): void {
  let i = 0;
  while (i < records.length) {
    const first = records[i]!;
    let j = i + 1;
    let size = first.data.length;
    while (j < records.length && records[j]!.at - first.at <= OUTPUT_COALESCE_MS && size + records[j]!.data.length <= FEED_BYTES) {
      size += records[j]!.data.length;
      j++;
    }
    if (j === i + 1) pipeline.output(first.data, first.at);
    else {
      const joined = new Uint8Array(size);
      let offset = 0;
      for (let k = i; k < j; k++) {
        joined.set(records[k]!.data, offset);
        offset += records[k]!.data.length;
      }
      pipeline.output(joined, first.at);
    }
    i = j;
  }
}

try {
  const pipeline = await RecordPipeline.start(data, post);
  const ring = new RingReader(data.ring);
  let ended = false;
  port.on('message', (message: ToRecordWorker) => {
    feed(pipeline, ring.take(message.outputPos));
    switch (message.t) {
      case 'input':
        pipeline.input(message.text, message.at);
        break;
      case 'resize':
        pipeline.resize(message.cols, message.rows, message.at);
        break;
      case 'end':
        ended = true;
        void pipeline.end(message.status, message.at).then(() => port.close());
        break;
      default:
        message satisfies never;
    }
  });
  post({ t: 'ready' });
  // Take whatever the main thread has written, then sleep until it writes more. Not awaited:
  // the thread ends (terminated by the main thread after the seal) while this still waits.
  void (async () => {
    while (!ended) {
      const seen = ring.signalValue;
      feed(pipeline, ring.take());
      await ring.changed(seen);
    }
  })();
} catch (error) {
  post({ t: 'failed', message: (error as Error).message });
  port.close();
}
