/**
 * Test support: records real sessions through the real recorder process
 * (RecorderClient → recorder/main.ts → node-pty → spool → packed bundle), so
 * that tests judge bundles exactly as users get them.
 *
 *   const recorder = await RecorderFixture.start();
 *   after(() => recorder.close());
 *   const session = await recorder.record({ steps: [{ waitFor: PROMPT }, { input: 'echo hi\r', waitFor: 'hi' }] });
 *
 * Every wait has a deadline and fails with the output seen so far, so a test
 * that goes wrong fails quickly instead of hanging.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newSessionId, nodeSuite, RecorderClient, type RecorderEvent } from '../../recorder/index.ts';
import { fromBase64, keyIdOf, type CheckpointKind, type TrustRoot } from '../../shared/bundle/index.ts';
import { DEFAULT_POLICY } from '../../shared/redaction/policy.ts';

/** The prompt of the shells these helpers start (PS1 is fixed so tests can wait for it). */
export const PROMPT = 'custody-test$ ';

/** An interactive bash that reads no rc file: what an admin's local shell looks like, minus their config. */
export const INTERACTIVE_BASH = { command: '/bin/bash', args: ['--norc', '--noprofile', '-i'] } as const;

export type SessionStep =
  /** Types `input`; then, if given, waits until the output after it contains `waitFor`, then pauses `pauseMs`. */
  | { readonly input: string; readonly waitFor?: string; readonly pauseMs?: number }
  /** Resizes the terminal, then pauses `pauseMs`. */
  | { readonly resize: readonly [cols: number, rows: number]; readonly pauseMs?: number }
  /** Waits until the output since the previous wait contains this text, then pauses `pauseMs`. */
  | { readonly waitFor: string; readonly pauseMs?: number }
  | { readonly pauseMs: number };

export interface SessionSpec {
  readonly command?: string;
  readonly args?: readonly string[];
  readonly steps?: readonly SessionStep[];
  readonly cols?: number;
  readonly rows?: number;
  /** Added to a small fixed environment (PATH, HOME, TERM, LANG, PS1). */
  readonly env?: Readonly<Record<string, string>>;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Closes the session (SIGHUP) after the steps instead of waiting for the program to exit. */
  readonly close?: boolean;
  /** Deadline for each wait and for the seal. */
  readonly timeoutMs?: number;
  /** The org root's certificate for the recorder's device key (from enrollment), for the open call. */
  readonly deviceCert?: Uint8Array;
}

export interface RecordedBundle {
  readonly sessionId: string;
  /** Where the recorder wrote the bundle (inside the fixture's data dir). */
  readonly path: string;
  readonly bytes: Uint8Array;
  /** What the display path showed, decoded as UTF-8. */
  readonly output: string;
  /** The checkpoints the recorder reported, in order. */
  readonly checkpoints: readonly { readonly kind: CheckpointKind; readonly size: number }[];
  readonly exitCode: number;
}

/** A fresh directory under the system temp dir; the caller removes it (see `removeDir`). */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `custody-${prefix}-`));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A trust root that trusts the device key kept in `keyFile` (the `device-key.json` the recorder creates). */
export async function trustRootForKeyFile(keyFile: string): Promise<TrustRoot> {
  const file = JSON.parse(await readFile(keyFile, 'utf8')) as { publicKey: string };
  const publicKey = fromBase64(file.publicKey);
  if (publicKey === undefined) throw new Error(`${keyFile} holds no base64 public key`);
  return { version: 1, name: 'test device', keys: [{ keyId: keyIdOf(nodeSuite, publicKey), publicKey: file.publicKey, role: 'device' }] };
}

/** One recorder process with its own temp data dir (and so its own device key). */
export class RecorderFixture {
  readonly dataDir: string;
  readonly client: RecorderClient;
  readonly deviceKeyId: string;

  private constructor(dataDir: string, client: RecorderClient, deviceKeyId: string) {
    this.dataDir = dataDir;
    this.client = client;
    this.deviceKeyId = deviceKeyId;
  }

  static async start(): Promise<RecorderFixture> {
    const dataDir = await makeTempDir('recorder');
    const client = RecorderClient.start({ dataDir });
    try {
      const ready = await withDeadline(client.ready, 20_000, 'the recorder did not report ready');
      return new RecorderFixture(dataDir, client, ready.deviceKeyId);
    } catch (error) {
      client.kill();
      await removeDir(dataDir);
      throw error;
    }
  }

  get keyFile(): string {
    return join(this.dataDir, 'device-key.json');
  }

  /** A trust root listing this recorder's device key (what `custody keys trust-root` prints). */
  async trustRoot(): Promise<TrustRoot> {
    const root = await trustRootForKeyFile(this.keyFile);
    if (root.keys[0]?.keyId !== this.deviceKeyId) throw new Error('device-key.json does not hold the key the recorder reported');
    return root;
  }

  /** Runs one session to its seal and returns the bundle. */
  async record(spec: SessionSpec = {}): Promise<RecordedBundle> {
    const client = this.client;
    const sessionId = newSessionId();
    const timeoutMs = spec.timeoutMs ?? 15_000;
    const decoder = new TextDecoder();
    let output = '';
    let waitedUpTo = 0;
    const checkpoints: { kind: CheckpointKind; size: number }[] = [];
    let exitCode: number | undefined;
    let failure: string | undefined;
    const wakeups = new Set<() => void>();
    let sealed: Extract<RecorderEvent, { type: 'sealed' }> | undefined;
    const off = client.on((event) => {
      if (!('sessionId' in event) || event.sessionId !== sessionId) return;
      switch (event.type) {
        case 'output':
          output += decoder.decode(event.data, { stream: true });
          break;
        case 'checkpoint':
          checkpoints.push({ kind: event.kind, size: event.size });
          break;
        case 'exit':
          exitCode = event.signal !== null && event.signal !== 0 ? 128 + event.signal : event.exitCode;
          break;
        case 'error':
          if (event.fatal) failure = `${event.code}: ${event.message}`;
          break;
        case 'sealed':
          sealed = event;
          break;
        default:
          break;
      }
      for (const wake of [...wakeups]) wake();
    });
    /** Resolves when `done()` holds, re-checked after every event of this session. */
    const until = (what: string, done: () => boolean): Promise<void> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (done()) finish(resolve);
          else if (failure !== undefined) finish(() => reject(new Error(`${what}: the session failed: ${failure}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`${what}: nothing after ${timeoutMs} ms; output so far: ${JSON.stringify(output.slice(-2000))}`))),
          timeoutMs,
        );
        const finish = (then: () => void): void => {
          clearTimeout(timer);
          wakeups.delete(check);
          then();
        };
        wakeups.add(check);
        check();
      });
    const waitForText = async (text: string): Promise<void> => {
      let found = -1;
      await until(`waiting for ${JSON.stringify(text)}`, () => {
        found = output.indexOf(text, waitedUpTo);
        return found >= 0;
      });
      waitedUpTo = found + text.length;
    };

    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: this.dataDir,
      TERM: 'xterm-256color',
      LANG: 'C.UTF-8',
      PS1: PROMPT,
      ...spec.env,
    };
    try {
      client.send({
        type: 'open',
        sessionId,
        command: spec.command ?? INTERACTIVE_BASH.command,
        args: [...(spec.args ?? INTERACTIVE_BASH.args)],
        cwd: this.dataDir,
        env,
        cols: spec.cols ?? 80,
        rows: spec.rows ?? 24,
        metadata: { user: 'tester', target: 'localhost', ...spec.metadata },
        knownSecrets: [],
        redactionPolicy: { ...DEFAULT_POLICY, version: 'test', recordInput: true },
        ...(spec.deviceCert === undefined ? {} : { deviceCert: spec.deviceCert }),
      });
      for (const step of spec.steps ?? []) {
        if ('input' in step) {
          client.send({ type: 'input', sessionId, data: step.input });
          if (step.waitFor !== undefined) await waitForText(step.waitFor);
        } else if ('resize' in step) {
          client.send({ type: 'resize', sessionId, cols: step.resize[0], rows: step.resize[1] });
        } else if ('waitFor' in step) {
          await waitForText(step.waitFor);
        }
        if (step.pauseMs !== undefined) await sleep(step.pauseMs);
      }
      if (spec.close === true) client.send({ type: 'close', sessionId });
      await until('waiting for the seal', () => sealed !== undefined);
    } finally {
      off();
    }
    const bundle = sealed!;
    return {
      sessionId,
      path: bundle.bundlePath,
      bytes: new Uint8Array(await readFile(bundle.bundlePath)),
      output: output + decoder.decode(),
      checkpoints,
      exitCode: exitCode ?? -1,
    };
  }

  /** Stops the recorder and removes its data dir (device key, spool, bundles). */
  async close(): Promise<void> {
    try {
      await withDeadline(this.client.stop(), 10_000, 'the recorder did not exit');
    } catch {
      this.client.kill();
    } finally {
      await removeDir(this.dataDir);
    }
  }
}

/**
 * One-shot: records one session with a recorder of its own. The result holds
 * the trust root of that recorder's device key; call `dispose()` (in `after`)
 * to stop the recorder and remove its temp dir, bundle included.
 */
export async function recordSession(spec: SessionSpec): Promise<RecordedBundle & { trustRoot: TrustRoot; dispose(): Promise<void> }> {
  const fixture = await RecorderFixture.start();
  try {
    const bundle = await fixture.record(spec);
    return { ...bundle, trustRoot: await fixture.trustRoot(), dispose: () => fixture.close() };
  } catch (error) {
    await fixture.close();
    throw error;
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
