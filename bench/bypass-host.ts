/**
 * A stand-in for the recorder process with the recording taken out: forked the
 * same way (Node IPC, `serialization: 'advanced'`), it owns one pty and relays
 * its bytes as the same `output` events, and `input` calls to the pty. No
 * redaction, no Merkle tree, no spool, no checkpoints, no schema validation.
 *
 * It is the baseline that separates "the pty lives in another process" (which
 * the architecture requires in every configuration) from what recording adds.
 *
 * With `--coalesce`, the chunks node-pty delivers in one turn of the event
 * loop are sent as one message (flushed by setImmediate, right after the poll
 * phase that read them): an experiment that shows what batching the display
 * path would save, not something the recorder does today.
 *
 *   node bench/bypass-host.ts [--coalesce]      (started by bench/transports.ts)
 */
import * as pty from 'node-pty';

interface OpenCall {
  readonly type: 'open';
  readonly sessionId: string;
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  readonly cols: number;
  readonly rows: number;
}

type Call = OpenCall | { type: 'input'; sessionId: string; data: string } | { type: 'close'; sessionId: string };

if (process.send === undefined) {
  process.stderr.write('bench/bypass-host.ts: start me over an IPC channel (bench/bypass-client.ts does this)\n');
  process.exit(2);
}
const send = (message: unknown): void => {
  process.send?.(message);
};

const coalesce = process.argv.includes('--coalesce');
const sessions = new Map<string, pty.IPty>();

/** Sends output at once, or (--coalesce) gathers what arrives in one event-loop turn into one message. */
function outputSender(sessionId: string): (bytes: Buffer) => void {
  if (!coalesce) {
    return (bytes) => send({ type: 'output', sessionId, data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
  }
  let pending: Buffer[] = [];
  const flush = (): void => {
    const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending = [];
    send({ type: 'output', sessionId, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  };
  return (bytes) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(bytes);
  };
}

function open(call: OpenCall): void {
  const term = pty.spawn(call.command, call.args, {
    name: call.env['TERM'] ?? 'xterm-256color',
    cols: call.cols,
    rows: call.rows,
    cwd: call.cwd,
    env: call.env,
    encoding: null,
  });
  sessions.set(call.sessionId, term);
  const output = outputSender(call.sessionId);
  term.onData((data) => output(data as unknown as Buffer));
  term.onExit(({ exitCode, signal }) => {
    // Same grace as the recorder: node-pty may deliver the last output just after exit.
    setTimeout(() => {
      sessions.delete(call.sessionId);
      send({ type: 'exit', sessionId: call.sessionId, exitCode, signal: signal ?? null });
    }, 20);
  });
}

process.on('message', (message: Call) => {
  switch (message.type) {
    case 'open':
      open(message);
      break;
    case 'input':
      sessions.get(message.sessionId)?.write(message.data);
      break;
    case 'close':
      sessions.get(message.sessionId)?.kill('SIGHUP');
      break;
    default:
      message satisfies never;
  }
});
process.on('disconnect', () => {
  for (const term of sessions.values()) term.kill('SIGHUP');
  process.exit(0);
});
send({ type: 'ready', pid: process.pid });
