/**
 * Shared set-up for the recorder's end-to-end tests: a real recorder process
 * (RecorderClient), a recorded session driven like a user would, and the
 * checks an auditor would make on the bundle it leaves behind.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  NOTES_ENTRY,
  parseCheckpoint,
  parseNote,
  readZip,
  splitNotes,
  toBase64,
  verifyBundle,
  type CheckpointKind,
  type Finding,
  type TrustRoot,
  type VerifyReport,
} from '../../shared/bundle/index.ts';
import { FileKeyStore, RecorderClient, type OpenCall, type RecorderClientOptions, type RecorderEvent } from '../../recorder/index.ts';
import { DEFAULT_POLICY } from '../../shared/redaction/policy.ts';

const run = promisify(execFile);

/** Findings that mean the sealed prefix is not what was recorded: never acceptable after a crash. */
export const INTEGRITY_FAILURES: ReadonlySet<Finding['status']> = new Set([
  'malformed',
  'unknown-version',
  'bad-signature',
  'tampered',
  'digest-mismatch',
  'truncated',
]);

/** A recovered bundle is never sealed; these are the verdicts it may carry. */
export const RECOVERED_STATUSES: ReadonlySet<string> = new Set(['unsealed-tail', 'no-seal', 'torn-line']);

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `custody-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Rejects with a message that names what never happened, instead of hanging the run. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(what: string, ms: number, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await sleep(20);
  }
}

// -- processes ------------------------------------------------------------------

/** Alive means running: a zombie (exited, not yet reaped by whoever inherited it) is gone. */
export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) state …": comm may hold spaces and parentheses, the state follows the last ")".
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** node-pty starts the program in a new session, so its pid is also its process group id. */
export function killProcessGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The pid a recorded program wrote to `file` (`echo $$ > file`), once it has. */
export async function pidFrom(file: string): Promise<number> {
  let pid = NaN;
  await waitUntil(`the program wrote its pid to ${file}`, 10_000, async () => {
    pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    return Number.isInteger(pid) && pid > 0;
  });
  return pid;
}

/** A pid that surely belongs to no running process: one of ours that has exited and been reaped. */
export async function deadPid(): Promise<number> {
  const child = execFile('true');
  const pid = child.pid!;
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitUntil(`process ${pid} was reaped`, 5_000, () => !processAlive(pid));
  return pid;
}

// -- the recorder -----------------------------------------------------------------

export type ReadyEvent = Extract<RecorderEvent, { type: 'ready' }>;
export type CheckpointEvent = Extract<RecorderEvent, { type: 'checkpoint' }>;
export type SealedEvent = Extract<RecorderEvent, { type: 'sealed' }>;
export type ErrorEvent = Extract<RecorderEvent, { type: 'error' }>;
export type ExitEvent = Extract<RecorderEvent, { type: 'exit' }>;

/** One recorder process and every event it sent, in order (output is counted, not kept). */
export class RecorderUnderTest {
  readonly client: RecorderClient;
  readonly events: RecorderEvent[] = [];
  readonly outputBytes = new Map<string, number>();

  private constructor(client: RecorderClient) {
    this.client = client;
    client.on((event) => {
      if (event.type === 'output') {
        this.outputBytes.set(event.sessionId, (this.outputBytes.get(event.sessionId) ?? 0) + event.data.length);
      } else {
        this.events.push(event);
      }
    });
  }

  static start(options: RecorderClientOptions): RecorderUnderTest {
    return new RecorderUnderTest(RecorderClient.start(options));
  }

  ready(): Promise<ReadyEvent> {
    return within(20_000, 'the recorder to be ready', this.client.ready);
  }

  /** Events before `ready`, i.e. what crash recovery reported. */
  eventsBeforeReady(): RecorderEvent[] {
    const index = this.events.findIndex((e) => e.type === 'ready');
    return index < 0 ? [...this.events] : this.events.slice(0, index);
  }

  of(sessionId: string): RecorderEvent[] {
    return this.events.filter((e) => 'sessionId' in e && e.sessionId === sessionId);
  }

  checkpoints(sessionId: string): CheckpointEvent[] {
    return this.of(sessionId).filter((e): e is CheckpointEvent => e.type === 'checkpoint');
  }

  /** The largest tree size any checkpoint event received so far attested. */
  lastCheckpointSize(sessionId: string): number {
    return Math.max(0, ...this.checkpoints(sessionId).map((e) => e.size));
  }

  /** Resolves with the first event (already received or still to come) that matches. */
  next<T extends RecorderEvent>(what: string, match: (event: RecorderEvent) => event is T, ms?: number): Promise<T>;
  next(what: string, match: (event: RecorderEvent) => boolean, ms?: number): Promise<RecorderEvent>;
  async next(what: string, match: (event: RecorderEvent) => boolean, ms = 20_000): Promise<RecorderEvent> {
    const seen = this.events.find(match);
    if (seen !== undefined) return seen;
    return within(ms, what, this.client.waitFor(match));
  }

  /** Disconnects and waits for the process to leave (it seals what is open). */
  async stop(): Promise<void> {
    await within(20_000, 'the recorder to stop', this.client.stop());
  }

  /** A crash: SIGKILL, then wait until the process is reaped. */
  async crash(): Promise<void> {
    this.client.kill('SIGKILL');
    await within(10_000, 'the killed recorder to exit', this.client.exited);
  }
}

export interface SessionSpec {
  readonly sessionId: string;
  readonly cwd: string;
  /** Run by `bash -c`. */
  readonly script: string;
  readonly recordInput?: boolean;
}

export function openBash(spec: SessionSpec): OpenCall {
  return {
    type: 'open',
    sessionId: spec.sessionId,
    command: '/bin/bash',
    args: ['-c', spec.script],
    cwd: spec.cwd,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TERM: 'xterm-256color', LANG: 'C.UTF-8' },
    cols: 80,
    rows: 24,
    metadata: { user: 'test', target: 'local' },
    knownSecrets: [],
    redactionPolicy: { ...DEFAULT_POLICY, version: 'test', recordInput: spec.recordInput ?? true },
  };
}

/** Shell-quotes one word for a `bash -c` script. */
export function sh(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

let counter = 0;
export function sessionIdFor(label: string): string {
  counter += 1;
  return `${label}-${process.pid}-${counter}-${Date.now().toString(36)}`.slice(0, 64);
}

// -- keys and bundles ---------------------------------------------------------------

/** The trust root an auditor would load for this device (what `custody keys trust-root` prints). */
export async function trustRootFor(keyFile: string): Promise<{ trustRoot: TrustRoot; keyId: string }> {
  const key = await new FileKeyStore(keyFile).deviceKey();
  return {
    keyId: key.keyId,
    trustRoot: {
      version: 1,
      name: 'test device',
      keys: [{ keyId: key.keyId, publicKey: toBase64(key.publicKey), role: 'device' }],
    },
  };
}

export interface CheckpointSummary {
  readonly size: number;
  readonly kind: CheckpointKind;
}

/** The checkpoints a bundle carries, read independently of the verifier. */
export function checkpointsIn(bundle: Uint8Array): CheckpointSummary[] {
  const notes = readZip(bundle).get(NOTES_ENTRY);
  if (notes === undefined) return [];
  const text = new TextDecoder().decode(notes);
  // A torn last note (no final newline) carries no checkpoint.
  const whole = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  const result: CheckpointSummary[] = [];
  for (const { note, line } of splitNotes(whole)) {
    const where = { entry: NOTES_ENTRY, line, label: 'checkpoint' };
    try {
      const body = parseCheckpoint(parseNote(note, where).text, where);
      result.push({ size: body.size, kind: body.kind });
    } catch {
      break;
    }
  }
  return result;
}

export interface OpenedBundle {
  readonly bytes: Uint8Array;
  readonly report: VerifyReport;
  /** Size attested by the last checkpoint in the bundle (0 if none). */
  readonly lastCheckpointSize: number;
}

export async function openBundle(path: string, trustRoot: TrustRoot): Promise<OpenedBundle> {
  const bytes = new Uint8Array(await readFile(path));
  const report = verifyBundle(bytes, { trustRoot });
  const checkpoints = checkpointsIn(bytes);
  return { bytes, report, lastCheckpointSize: checkpoints.at(-1)?.size ?? 0 };
}

/** For assertion messages: what the verifier said, one finding a line. */
export function describe(report: VerifyReport): string {
  return [`status ${report.status}: ${report.summary}`, ...report.findings.map((f) => `  ${f.status}: ${f.message}`)].join('\n');
}

// -- mounts -----------------------------------------------------------------------

/** Runs mount/umount/losetup…; resolves with stdout, rejects with the tool's own message. */
export async function tool(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, [...args]);
    return stdout.trim();
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    // The first line says what went wrong; the rest is advice such as "dmesg(1) may have more information".
    const reason = (e.stderr ?? '').trim().split('\n')[0] || e.message;
    throw new Error(`${command} ${args.join(' ')}: ${reason}`);
  }
}

// -- crash recovery -----------------------------------------------------------------

export interface Recovery {
  readonly recorder: RecorderUnderTest;
  readonly ready: ReadyEvent;
  readonly sealed: SealedEvent;
  readonly bundle: OpenedBundle;
}

/**
 * Starts the next recorder on a data folder and opens the bundle it recovered
 * for `sessionId`, which it must have reported (`sealed`, `recovered: true`)
 * before `ready`. The device key is `options.keyFile`, or the default file in the data folder.
 */
export async function restartAndRecover(options: RecorderClientOptions, sessionId: string): Promise<Recovery> {
  const recorder = RecorderUnderTest.start(options);
  try {
    const ready = await recorder.ready();
    const before = recorder.eventsBeforeReady();
    const sealed = before.find((e): e is SealedEvent => e.type === 'sealed' && e.sessionId === sessionId);
    assert.ok(sealed, `the recorder reported no recovered bundle for ${sessionId} before ready; it sent ${JSON.stringify(before)}`);
    assert.equal(sealed.recovered, true, 'a bundle packed from a crashed spool is marked recovered');
    const { trustRoot, keyId } = await trustRootFor(options.keyFile ?? join(options.dataDir, 'device-key.json'));
    assert.equal(ready.deviceKeyId, keyId);
    const bundle = await openBundle(sealed.bundlePath, trustRoot);
    assert.equal(createHash('sha256').update(bundle.bytes).digest('hex'), sealed.sha256, 'the sealed event names the bundle that is on disk');
    return { recorder, ready, sealed, bundle };
  } catch (error) {
    recorder.client.kill('SIGKILL');
    await recorder.client.exited;
    throw error;
  }
}

/** What every recovered bundle must satisfy: an intact, trusted sealed prefix that reaches at least `seen` lines. */
export function assertRecoveredPrefix(bundle: OpenedBundle, seen: number): void {
  const { report, lastCheckpointSize } = bundle;
  const why = describe(report);
  const broken = report.findings.filter((f) => INTEGRITY_FAILURES.has(f.status));
  assert.deepEqual(broken, [], `the sealed prefix must verify:\n${why}`);
  assert.ok(RECOVERED_STATUSES.has(report.status), `a recovered bundle is reported as unsealed, not ${report.status}:\n${why}`);
  assert.equal(report.trusted, true, `signed by this device's key:\n${why}`);
  assert.ok(report.tree !== undefined && report.session !== undefined, why);
  assert.equal(report.tree.sealed, false);
  assert.equal(report.session.sealed, false);
  assert.equal(report.tree.verifiedSize, lastCheckpointSize, `every checkpoint in the bundle matches the recording:\n${why}`);
  assert.ok(
    report.tree.verifiedSize >= seen,
    `the client saw a checkpoint of ${seen} lines, so they were on disk; the bundle verifies only ${report.tree.verifiedSize}:\n${why}`,
  );
  assert.ok(report.session.recovered !== null, 'the manifest says the bundle was recovered');
  assert.equal(report.session.recovered.sealedSize, lastCheckpointSize, 'the recovered predicate names the last checkpoint as the sealed size');
  const tails = report.findings.filter((f) => f.status === 'unsealed-tail');
  if (report.tree.lines > lastCheckpointSize) {
    assert.equal(tails.length, 1, why);
    assert.deepEqual(tails[0]!.location.events, [lastCheckpointSize, report.tree.lines], 'the unsealed tail starts at the last checkpoint');
  } else {
    assert.deepEqual(tails, [], why);
  }
}
