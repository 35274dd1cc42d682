/**
 * `custody record [--out FILE] [--policy FILE] [--no-input] -- CMD ARGS…`: runs CMD in a
 * recorded pty attached to this terminal and writes a sealed bundle when it exits. The
 * redaction policy is the built-in default unless a policy file is given.
 */
import { resolve } from 'node:path';
import { newSessionId, RecorderClient, type RecorderEvent } from '../recorder/index.ts';
import { DEFAULT_POLICY, type RedactionPolicy } from '../shared/redaction/policy.ts';
import { dataDir, deviceKeyFile } from './paths.ts';

export interface RecordOptions {
  readonly out?: string;
  readonly command: readonly string[];
  readonly metadata?: Record<string, string>;
  readonly recordInput?: boolean;
  /** The redaction policy; DEFAULT_POLICY when absent. `recordInput: false` overrides its recordInput. */
  readonly policy?: RedactionPolicy;
}

export async function record(options: RecordOptions): Promise<number> {
  const [command, ...args] = options.command;
  if (command === undefined) throw new UsageError('record needs a command after --, e.g. custody record -- bash');
  const policy = options.policy ?? DEFAULT_POLICY;
  const dir = dataDir();
  const client = RecorderClient.start({ dataDir: dir, keyFile: deviceKeyFile(dir), manualAck: true });
  const recovered: string[] = [];
  const offRecovered = client.on((event) => {
    if (event.type === 'sealed' && event.recovered) recovered.push(event.bundlePath);
  });
  await client.ready;
  offRecovered();
  for (const path of recovered) process.stderr.write(`custody: recovered an interrupted recording: ${path}\n`);

  const stdin = process.stdin;
  const stdout = process.stdout;
  const sessionId = newSessionId();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env['TERM'] ??= 'xterm-256color';
  env['CUSTODY_SESSION'] = sessionId;

  let exitCode = 1;
  let failure: string | undefined;
  const finished = new Promise<RecorderEvent>((resolvePromise) => {
    client.on((event) => {
      if ('sessionId' in event && event.sessionId !== sessionId) return;
      switch (event.type) {
        case 'output': {
          // Acknowledged once the terminal has taken it: a slow terminal pauses the program.
          const bytes = event.data.length;
          stdout.write(event.data, () => client.ack(sessionId, bytes));
          break;
        }
        case 'exit':
          exitCode = event.signal !== null && event.signal !== 0 ? 128 + event.signal : event.exitCode;
          break;
        case 'error':
          if (event.code === 'unknown-session') break; // input that raced the exit
          failure = event.message;
          process.stderr.write(`\r\ncustody: ${event.message}\r\n`);
          // At the size limit the session ends but is still sealed: wait for the bundle.
          if (event.fatal && event.code !== 'recording-limit') resolvePromise(event);
          break;
        case 'sealed':
          resolvePromise(event);
          break;
        default:
          break;
      }
    });
  });

  const size = (): { cols: number; rows: number } => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  client.send({
    type: 'open',
    sessionId,
    command,
    args,
    cwd: process.cwd(),
    env,
    ...size(),
    metadata: { user: env['USER'] ?? env['LOGNAME'] ?? 'unknown', host: 'local', ...options.metadata },
    knownSecrets: [],
    redactionPolicy: { ...policy, recordInput: policy.recordInput && options.recordInput !== false },
    ...(options.out === undefined ? {} : { bundlePath: resolve(options.out) }),
  });

  const raw = stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const onInput = (chunk: Buffer): void => client.send({ type: 'input', sessionId, data: chunk.toString('utf8') });
  const onResize = (): void => client.send({ type: 'resize', sessionId, ...size() });
  stdin.on('data', onInput);
  // End of piped input is what Ctrl-D is at a terminal: the program sees end-of-file and
  // finishes on its own (script(1) does the same), rather than being hung up on.
  const onEnd = (): void => client.send({ type: 'input', sessionId, data: '\x04' });
  stdin.on('end', onEnd);
  stdout.on('resize', onResize);

  const last = await finished;
  stdin.off('data', onInput);
  stdin.off('end', onEnd);
  stdout.off('resize', onResize);
  if (raw) stdin.setRawMode(false);
  stdin.pause();
  await client.stop();
  if (last.type === 'sealed') {
    process.stderr.write(`custody: recording sealed: ${last.bundlePath}\ncustody: sha256 ${last.sha256}\n`);
    return exitCode;
  }
  process.stderr.write(`custody: the session ended without a sealed bundle${failure === undefined ? '' : `: ${failure}`}\n`);
  return exitCode === 0 ? 1 : exitCode;
}

export class UsageError extends Error {}
