/**
 * Entry point of a session's record-path worker thread (see pipeline.ts).
 * Messages are applied in order; `end` seals and then the thread exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FromRecordWorker, RecordWorkerData, ToRecordWorker } from './messages.ts';
import { RecordPipeline } from './pipeline.ts';

const port = parentPort;
if (port === null) throw new Error('record-path worker: start me as a worker thread');
const post = (message: FromRecordWorker): void => port.postMessage(message);

try {
  const pipeline = await RecordPipeline.start(workerData as RecordWorkerData, post);
  port.on('message', (message: ToRecordWorker) => {
    switch (message.t) {
      case 'output':
        pipeline.output(message.data, message.at);
        break;
      case 'input':
        pipeline.input(message.text, message.at);
        break;
      case 'resize':
        pipeline.resize(message.cols, message.rows, message.at);
        break;
      case 'end':
        void pipeline.end(message.status, message.at).then(() => port.close());
        break;
      default:
        message satisfies never;
    }
  });
  post({ t: 'ready' });
} catch (error) {
  post({ t: 'failed', message: (error as Error).message });
  port.close();
}
