/**
 * Crash recovery, end to end: a real recorder process records a real program,
 * is killed with SIGKILL at an arbitrary moment, and the next recorder started
 * on the same data folder turns the spool it left into a bundle marked
 * recovered. What any checkpoint the client saw covered must survive and verify.
 */
import assert from 'node:assert/strict';
import { access, appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { CAST_ENTRY, readZip, splitNotes } from '../shared/bundle/index.ts';
import {
  RecorderUnderTest,
  assertRecoveredPrefix,
  deadPid,
  describe,
  killProcessGroup,
  openBash,
  openBundle,
  pidFrom,
  removeDir,
  restartAndRecover as restartOn,
  sessionIdFor,
  sh,
  sleep,
  tempDir,
  trustRootFor,
  type ReadyEvent,
  type Recovery,
  type SealedEvent,
} from './support/recorder-harness.ts';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A recorder on `dataDir` that is recording `script` (which must start with `echo $$ > pidFile`). */
interface RunningSession {
  readonly recorder: RecorderUnderTest;
  readonly ready: ReadyEvent;
  readonly sessionId: string;
  readonly spoolDir: string;
  /** The recorded program (bash), leader of its own process group. */
  readonly pid: number;
}

async function startRecording(dataDir: string, label: string, script: (pidFile: string) => string): Promise<RunningSession> {
  const recorder = RecorderUnderTest.start({ dataDir });
  try {
    const ready = await recorder.ready();
    const sessionId = sessionIdFor(label);
    const pidFile = join(dataDir, '..', `${sessionId}.pid`);
    recorder.client.send(openBash({ sessionId, cwd: dataDir, script: script(pidFile) }));
    const pid = await pidFrom(pidFile);
    return { recorder, ready, sessionId, spoolDir: join(dataDir, 'spool', sessionId), pid };
  } catch (error) {
    await recorder.crash(); // the session's program, if any, ends with the pty
    throw error;
  }
}

/** The next recorder on the same data folder (device key in its default place). */
function restartAndRecover(dataDir: string, sessionId: string): Promise<Recovery> {
  return restartOn({ dataDir }, sessionId);
}

/** SIGKILL the recorder, and the program it left behind (a real crash leaves it to the kernel's SIGHUP). */
async function crash(session: RunningSession): Promise<void> {
  await session.recorder.crash();
  killProcessGroup(session.pid);
}

test('a recorder killed at any moment loses nothing a checkpoint covered: the next start recovers the spool', async () => {
  // fast-check prints the seed of a failing run; CUSTODY_CRASH_SEED=<seed> replays it.
  const seed = process.env['CUSTODY_CRASH_SEED'];
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 50, max: 1500 }),
      fc.constantFrom('paced lines', 'bursts'),
      fc.uniqueArray(fc.integer({ min: 0, max: 1500 }), { maxLength: 4 }),
      async (killAfterMs, program, inputAtMs) => {
        const base = await tempDir('crash');
        const dataDir = join(base, 'data');
        await mkdir(dataDir);
        let running: RunningSession | undefined;
        let recovery: Recovery | undefined;
        const timers: NodeJS.Timeout[] = [];
        try {
          running = await startRecording(dataDir, 'crash', (pidFile) =>
            program === 'paced lines'
              ? `echo $$ > ${sh(pidFile)}; i=0; while :; do i=$((i+1)); echo "line $i $(date +%s%N)"; done`
              : `echo $$ > ${sh(pidFile)}; while :; do seq -f 'burst line %g' 1 20000; sleep 0.05; done`,
          );
          const { recorder, sessionId } = running;
          for (const at of inputAtMs.filter((ms) => ms < killAfterMs)) {
            timers.push(setTimeout(() => recorder.client.send({ type: 'input', sessionId, data: `typed at ${at}\r` }), at));
          }
          await sleep(killAfterMs);
          await crash(running);
          const seen = recorder.lastCheckpointSize(sessionId);
          assert.equal(await exists(running.spoolDir), true, 'the crash left the spool behind');

          recovery = await restartAndRecover(dataDir, sessionId);
          assert.equal(await exists(running.spoolDir), false, 'the spool is removed once its bundle is safe');
          assert.equal(recovery.sealed.bundlePath, join(dataDir, 'bundles', `${sessionId}.custody`));
          assertRecoveredPrefix(recovery.bundle, seen);
        } finally {
          for (const timer of timers) clearTimeout(timer);
          if (running !== undefined) {
            running.recorder.client.kill('SIGKILL');
            killProcessGroup(running.pid);
          }
          await recovery?.recorder.stop();
          await removeDir(base);
        }
      },
    ),
    { numRuns: 6, endOnFailure: true, ...(seed === undefined ? {} : { seed: Number(seed) }) },
  );
});

/** A program that prints one line and then waits: the spool is quiet and fully checkpointed when it is killed. */
async function recordQuietlyThenCrash(dataDir: string, label: string): Promise<{ running: RunningSession; seen: number }> {
  const running = await recordQuietly(dataDir, label);
  await crash(running);
  return { running, seen: running.recorder.lastCheckpointSize(running.sessionId) };
}

/** The quiet program, recorded and checkpointed, still running. */
async function recordQuietly(dataDir: string, label: string): Promise<RunningSession> {
  const running = await startRecording(dataDir, label, (pidFile) => `echo $$ > ${sh(pidFile)}; echo 'hello before the crash'; exec sleep 60`);
  const { recorder, sessionId } = running;
  try {
    await recorder.next('a checkpoint covering the output', (e) => e.type === 'checkpoint' && e.sessionId === sessionId && e.size >= 2);
    await sleep(300); // nothing more happens; let any late checkpoint land
    return running;
  } catch (error) {
    await crash(running);
    throw error;
  }
}

test('a torn last line in the spool is dropped at recovery and reported with its byte count', async () => {
  const base = await tempDir('torn');
  const dataDir = join(base, 'data');
  await mkdir(dataDir);
  let recovery: Recovery | undefined;
  try {
    const { running, seen } = await recordQuietlyThenCrash(dataDir, 'torn');
    const castPath = join(running.spoolDir, 'session.cast');
    const castBefore = await readFile(castPath);
    assert.equal(castBefore.at(-1), 0x0a, 'the spool ended in whole lines before the tear');
    const torn = '[0.25, "o", "half a line that the crash cut';
    await appendFile(castPath, torn);

    recovery = await restartAndRecover(dataDir, running.sessionId);
    const { report } = recovery.bundle;
    assertRecoveredPrefix(recovery.bundle, seen);
    assert.equal(report.status, 'torn-line', describe(report));
    const tornFindings = report.findings.filter((f) => f.status === 'torn-line');
    assert.equal(tornFindings.length, 1, describe(report));
    assert.match(tornFindings[0]!.message, new RegExp(`\\b${Buffer.byteLength(torn)} bytes\\b`));
    assert.equal(report.session?.recovered?.tornBytes, Buffer.byteLength(torn));
    assert.equal(report.tree?.lines, seen, 'every whole line is kept and was checkpointed');
    const cast = readZip(recovery.bundle.bytes).get(CAST_ENTRY);
    assert.deepEqual(Buffer.from(cast!), castBefore, 'the bundle holds exactly the whole lines');
  } finally {
    await recovery?.recorder.stop();
    await removeDir(base);
  }
});

for (const [how, tear] of [
  ['mid-line', (note: string) => note.slice(0, Math.floor(note.length / 2))],
  ['after a whole line of it', (note: string) => note.slice(0, note.indexOf('\n') + 1)],
] as const) {
  test(`a checkpoint note torn ${how} is dropped at recovery and the sealed prefix still verifies`, async () => {
    const base = await tempDir('torn-note');
    const dataDir = join(base, 'data');
    await mkdir(dataDir);
    let recovery: Recovery | undefined;
    try {
      const { running, seen } = await recordQuietlyThenCrash(dataDir, 'torn-note');
      const notesPath = join(running.spoolDir, 'checkpoints.notes');
      const notes = splitNotes(await readFile(notesPath, 'utf8'));
      // One note or more: when the output lands before the first checkpoint runs, that one covers both.
      assert.ok(notes.length >= 1);
      // The crash cut the next note short: here, the start of a copy of the last one.
      await appendFile(notesPath, tear(notes.at(-1)!.note));

      recovery = await restartAndRecover(dataDir, running.sessionId);
      assertRecoveredPrefix(recovery.bundle, seen);
      assert.equal(recovery.bundle.lastCheckpointSize, seen);
    } finally {
      await recovery?.recorder.stop();
      await removeDir(base);
    }
  });
}

test('a spool whose owner process is alive is not recovered; once the owner is gone it is', async () => {
  const base = await tempDir('live-owner');
  const dataDir = join(base, 'data');
  await mkdir(dataDir);
  const recorders: RecorderUnderTest[] = [];
  try {
    const { running, seen } = await recordQuietlyThenCrash(dataDir, 'live-owner');
    const ownerFile = join(running.spoolDir, 'owner.pid');
    // Another recorder (here: this test process, which is surely alive) owns the spool.
    await writeFile(ownerFile, `${process.pid}\n`);

    const second = RecorderUnderTest.start({ dataDir });
    recorders.push(second);
    await second.ready();
    assert.deepEqual(second.eventsBeforeReady(), [], 'nothing was recovered and nothing failed');
    assert.equal(await exists(running.spoolDir), true, 'the live session keeps its spool');
    assert.equal(await exists(join(dataDir, 'bundles', `${running.sessionId}.custody`)), false, 'no bundle was packed from a live spool');
    assert.equal(await readFile(ownerFile, 'utf8'), `${process.pid}\n`, 'the spool was left untouched');
    await second.stop();

    await writeFile(ownerFile, `${await deadPid()}\n`);
    const recovery = await restartAndRecover(dataDir, running.sessionId);
    recorders.push(recovery.recorder);
    assertRecoveredPrefix(recovery.bundle, seen);
    assert.equal(await exists(running.spoolDir), false);
  } finally {
    for (const recorder of recorders) await recorder.stop();
    await removeDir(base);
  }
});

test('a second recorder on the same data folder leaves a running session alone', async () => {
  // The CLI and the app share one data folder, so two recorders may run side by side.
  const base = await tempDir('two-recorders');
  const dataDir = join(base, 'data');
  await mkdir(dataDir);
  let first: RunningSession | undefined;
  let second: RecorderUnderTest | undefined;
  try {
    first = await recordQuietly(dataDir, 'two');
    const { sessionId, spoolDir } = first;
    second = RecorderUnderTest.start({ dataDir });
    await second.ready();
    assert.deepEqual(second.eventsBeforeReady(), [], 'the live session was neither recovered nor reported');
    assert.equal(await exists(join(spoolDir, 'meta.json')), true, 'its spool is untouched');
    assert.equal(await exists(join(dataDir, 'bundles', `${sessionId}.custody`)), false);

    // The first recorder still owns the session and seals it normally.
    first.recorder.client.send({ type: 'close', sessionId });
    const sealed = await first.recorder.next('the seal', (e): e is SealedEvent => e.type === 'sealed' && e.sessionId === sessionId);
    assert.equal(sealed.recovered, false);
    const { trustRoot } = await trustRootFor(join(dataDir, 'device-key.json'));
    const { report } = await openBundle(sealed.bundlePath, trustRoot);
    assert.equal(report.status, 'intact', describe(report));
    assert.equal(report.trusted, true);
  } finally {
    if (first !== undefined) await crash(first);
    await second?.stop();
    await removeDir(base);
  }
});

test('a spool folder without meta.json (a crash while it was created) is removed silently', async () => {
  const base = await tempDir('no-meta');
  const dataDir = join(base, 'data');
  const spoolRoot = join(dataDir, 'spool');
  // Spool.create writes owner.pid, then the session key certificate, then meta.json (via a temp file).
  const halfCreated = join(spoolRoot, 'half-created-session');
  const justMade = join(spoolRoot, 'just-made-session');
  await mkdir(halfCreated, { recursive: true });
  await mkdir(justMade, { recursive: true });
  await writeFile(join(halfCreated, 'owner.pid'), `${await deadPid()}\n`);
  await writeFile(join(halfCreated, 'session-key.dsse.json'), '{"payloadType":');
  await writeFile(join(halfCreated, 'meta.json.tmp'), '{"version":1,"sess');
  let recorder: RecorderUnderTest | undefined;
  try {
    recorder = RecorderUnderTest.start({ dataDir });
    await recorder.ready();
    assert.deepEqual(recorder.eventsBeforeReady(), [], 'no bundle and no error: nothing had been recorded');
    assert.deepEqual(await readdir(spoolRoot), [], 'both half-created spool folders are gone');
    assert.deepEqual(await readdir(join(dataDir, 'bundles')), [], 'no bundle was made');
  } finally {
    await recorder?.stop();
    await removeDir(base);
  }
});
