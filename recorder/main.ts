/**
 * Entry point of the recorder process. Here it is a Node child process talking
 * over the IPC channel (`serialization: 'advanced'`); in Electron the same host
 * runs in a utilityProcess behind a MessagePort.
 *
 *   node recorder/main.ts --data-dir DIR [--key-file FILE]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileKeyStore } from './keystore.ts';
import { RecorderHost } from './host.ts';
import type { RecorderEvent } from './protocol.ts';

const { values } = parseArgs({
  options: { 'data-dir': { type: 'string' }, 'key-file': { type: 'string' } },
  strict: true,
});
const dataDir = values['data-dir'];
if (dataDir === undefined || process.send === undefined) {
  process.stderr.write('custody recorder: start me with --data-dir over an IPC channel (the CLI and the app do this)\n');
  process.exit(2);
}

const send = (event: RecorderEvent): void => {
  // After the client disconnects, sessions still seal and pack; there is just nobody to tell.
  if (process.connected) process.send?.(event);
};
const host = new RecorderHost({
  dataDir,
  keyStore: new FileKeyStore(values['key-file'] ?? join(dataDir, 'device-key.json')),
  emit: send,
});

process.on('message', (message) => void host.handle(message));
process.on('disconnect', () => {
  // The client is gone: end the sessions (they seal) and leave once they have.
  host.closeAll();
  const wait = setInterval(() => {
    if (host.sessionCount === 0) {
      clearInterval(wait);
      process.exit(0);
    }
  }, 50);
});

host.start(process.pid).catch((error: unknown) => {
  send({ type: 'error', code: 'recovery-failed', message: `the recorder could not start: ${(error as Error).message}`, fatal: true });
  process.exit(1);
});
